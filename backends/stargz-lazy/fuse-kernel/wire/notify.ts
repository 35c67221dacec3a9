/**
 * Notifications: messages the server writes unasked, with unique 0 and the notify code in the
 * header's error field.
 */
import { i64, u64 } from './bounds.js';
import { SIZE } from './layout.js';
import { NOTIFY } from './opcodes.js';
import { outHeader } from './reply.js';
import { fileNameBytes } from './names.js';

/**
 * FUSE_NOTIFY_RESEND (7.40): the kernel puts every request it sent and has not seen answered
 * back on the pending queue, marked with FUSE_UNIQUE_RESEND. A server that took a connection
 * over sends it once, so requests its predecessor read but never answered are read again.
 */
export function notifyResend(): Uint8Array[] {
  return [outHeader(0n, NOTIFY.RESEND, 0)];
}

/** FUSE_NOTIFY_INVAL_INODE: drop the attributes and cached pages [offset, offset+length) of a node (length 0: to the end; offset -1: attributes only). */
export function notifyInvalInode(nodeid: bigint, offset: bigint, length: bigint): Uint8Array[] {
  const body = Buffer.alloc(SIZE.NOTIFY_INVAL_INODE_OUT);
  body.writeBigUInt64LE(u64(nodeid, 'nodeid'), 0);
  body.writeBigInt64LE(i64(offset, 'offset'), 8);
  body.writeBigInt64LE(i64(length, 'length'), 16);
  return [outHeader(0n, NOTIFY.INVAL_INODE, body.length), body];
}

/** FUSE_NOTIFY_INVAL_ENTRY: drop the cached entry `name` of directory `parent`. */
export function notifyInvalEntry(parent: bigint, name: string): Uint8Array[] {
  const bytes = fileNameBytes(name);
  const body = Buffer.alloc(SIZE.NOTIFY_INVAL_ENTRY_OUT + bytes.length + 1);
  body.writeBigUInt64LE(u64(parent, 'parent'), 0);
  body.writeUInt32LE(bytes.length, 8);
  body.set(bytes, SIZE.NOTIFY_INVAL_ENTRY_OUT);
  return [outHeader(0n, NOTIFY.INVAL_ENTRY, body.length), body];
}
