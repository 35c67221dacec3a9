/**
 * The body of a READDIR or READDIRPLUS reply: records packed one after another, each padded to 8
 * bytes (FUSE_DIRENT_ALIGN), never more than the `size` the request asked for.
 *
 * READDIR records are fuse_dirent (ino u64, off u64, namelen u32, type u32, name). READDIRPLUS
 * records are fuse_direntplus: a fuse_entry_out (128 bytes) then the fuse_dirent. `nextOffset`
 * is the cookie the kernel sends back as the offset of the READDIR that continues after this entry.
 */
import { type Attr } from './attr.js';
import { u64 } from './bounds.js';
import { SIZE, direntAlign } from './layout.js';
import { fileNameBytes } from './names.js';
import { encodeEntry, outHeader } from './reply.js';
import { WireError } from './wire-error.js';

/** The entry part of a READDIRPLUS record. */
export interface DirentEntry {
  attr: Attr;
  entryTtl: number;
  attrTtl: number;
}

/** The largest reply buffer a writer allocates (the kernel asks for a page or a few: 4 MiB is far above). */
export const DIRENT_BUFFER_MAX = 4 << 20;

export class DirentWriter {
  private readonly buf: Buffer;
  private used = 0;

  constructor(
    readonly size: number,
    readonly plus: boolean,
  ) {
    if (!Number.isInteger(size) || size < 0) throw new WireError(`readdir size ${size} is not a size`);
    this.buf = Buffer.alloc(Math.min(size, DIRENT_BUFFER_MAX));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.used;
  }

  /**
   * Appends one entry; false (and nothing written) when it does not fit in what is left.
   * READDIR: `nodeid` is the inode number the kernel shows (d_ino). READDIRPLUS: with `entry`,
   * the record carries `nodeid` and the attributes, and for every name but "." and ".." the kernel
   * counts it as one lookup (a later FORGET returns it); without `entry` the record's entry is zero
   * (no lookup counted, the kernel looks the name up itself) and d_ino is `nodeid`.
   * Throws WireError for a name that is empty, over 255 bytes, or contains '/' or NUL.
   */
  add(name: string, nodeid: bigint, type: number, nextOffset: number, entry?: DirentEntry): boolean {
    const nameBytes = fileNameBytes(name);
    u64(nodeid, 'dirent nodeid');
    if (!Number.isSafeInteger(nextOffset) || nextOffset < 0) throw new WireError(`dirent offset ${nextOffset} is not a cookie`);
    if (!Number.isInteger(type) || type < 0 || type > 15) throw new WireError(`dirent type ${type} is not a DT_* value`);
    const prefix = this.plus ? SIZE.ENTRY_OUT : 0;
    const record = direntAlign(prefix + SIZE.DIRENT + nameBytes.length);
    if (this.used + record > this.buf.length) return false;
    const at = this.used;
    // Padding and an absent entry must be zero: the buffer is zeroed, written once front to
    // back, and encodeEntry checks everything before it writes.
    if (this.plus && entry !== undefined) encodeEntry(this.buf, at, nodeid, entry.attr, entry.entryTtl, entry.attrTtl);
    const d = at + prefix;
    this.buf.writeBigUInt64LE(entry !== undefined ? entry.attr.ino : nodeid, d);
    this.buf.writeBigUInt64LE(BigInt(nextOffset), d + 8);
    this.buf.writeUInt32LE(nameBytes.length, d + 16);
    this.buf.writeUInt32LE(type, d + 20);
    this.buf.set(nameBytes, d + SIZE.DIRENT);
    this.used += record;
    return true;
  }

  /** The reply: header and the records written (an empty body says the directory ends here). */
  parts(unique: bigint): Uint8Array[] {
    const body = this.buf.subarray(0, this.used);
    return body.length === 0 ? [outHeader(unique, 0, 0)] : [outHeader(unique, 0, body.length), body];
  }
}
