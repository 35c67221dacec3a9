/**
 * Encoding of the replies written to /dev/fuse: parts for one writev, a fuse_out_header (16
 * bytes: len, error, unique) then the body, then bulk data as the caller's own bytes (no copy).
 * Readdir replies are built by DirentWriter (dirent-writer.ts), notifications by notify.ts.
 */
import { type Attr, encodeAttr } from './attr.js';
import { SIZE } from './layout.js';
import { bounded, safeCount, u64 } from './bounds.js';
import { INIT } from './opcodes.js';
import { WireError } from './wire-error.js';

/**
 * The header of a message of `bodyLength` bytes after it; `error` is 0, -errno, or a notify code.
 * Small replies come from Node's buffer pool (Buffer.allocUnsafe): a DataView over a fresh
 * ArrayBuffer costs several times more per reply.
 */
export function outHeader(unique: bigint, error: number, bodyLength: number): Buffer {
  const total = SIZE.OUT_HEADER + bodyLength;
  if (total > 0xffff_ffff) throw new WireError(`reply of ${total} bytes does not fit fuse_out_header.len`);
  const h = Buffer.allocUnsafe(SIZE.OUT_HEADER);
  writeHeader(h, total, error, unique);
  return h;
}

function writeHeader(h: Buffer, total: number, error: number, unique: bigint): void {
  u64(unique, 'unique');
  h.writeUInt32LE(total, 0);
  h.writeInt32LE(error, 4);
  h.writeBigUInt64LE(unique, 8);
}

/** A reply of a fixed-size body that `fill` writes at offset 16 (the buffer starts zeroed). */
function fixed(unique: bigint, size: number, fill: (b: Buffer) => void): Uint8Array[] {
  const buf = Buffer.allocUnsafe(SIZE.OUT_HEADER + size).fill(0);
  writeHeader(buf, buf.length, 0, unique);
  fill(buf);
  return [buf];
}

/** A time to live in seconds (fractions allowed) as the valid + valid_nsec pair. */
export function ttlParts(seconds: number): { sec: bigint; nsec: number } {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > Number.MAX_SAFE_INTEGER) throw new WireError(`ttl ${seconds} is not a number of seconds`);
  const whole = Math.floor(seconds);
  const nsec = Math.min(999_999_999, Math.round((seconds - whole) * 1e9));
  return { sec: BigInt(whole), nsec };
}

/**
 * An error reply: `errno` is the positive Linux number (ENOENT = 2); a negative one is taken as
 * already negated (fs/errno.ts holds them negated).
 */
export function replyError(unique: bigint, errno: number): Uint8Array[] {
  const e = Math.abs(errno);
  if (!Number.isInteger(e) || e < 1 || e > 4095) throw new WireError(`errno ${errno} is not in 1..4095`);
  return [outHeader(unique, -e, 0)];
}

/** A success reply without a body (RELEASE, RELEASEDIR, FLUSH, ACCESS...). */
export function replyEmpty(unique: bigint): Uint8Array[] {
  return [outHeader(unique, 0, 0)];
}

/**
 * Writes a fuse_entry_out at `at` of `b` (generation 0). Shared with readdirplus. Checks every
 * value first: a refused entry writes nothing.
 */
export function encodeEntry(b: Buffer, at: number, nodeid: bigint, attr: Attr, entryTtl: number, attrTtl: number): void {
  const e = ttlParts(entryTtl);
  const a = ttlParts(attrTtl);
  u64(nodeid, 'nodeid');
  encodeAttr(b, at + 40, attr);
  b.writeBigUInt64LE(nodeid, at);
  b.writeBigUInt64LE(0n, at + 8);
  b.writeBigUInt64LE(e.sec, at + 16);
  b.writeBigUInt64LE(a.sec, at + 24);
  b.writeUInt32LE(e.nsec, at + 32);
  b.writeUInt32LE(a.nsec, at + 36);
}

/**
 * LOOKUP's answer (fuse_entry_out, 128 bytes). Each one the kernel receives with a nodeid other
 * than 0 counts one lookup that a FORGET later returns. nodeid 0 caches a negative entry for
 * entryTtl (the answer to a missing name that the kernel may remember).
 */
export function replyEntry(unique: bigint, nodeid: bigint, attr: Attr, entryTtl: number, attrTtl: number): Uint8Array[] {
  return fixed(unique, SIZE.ENTRY_OUT, (b) => encodeEntry(b, 16, nodeid, attr, entryTtl, attrTtl));
}

/** GETATTR's answer (fuse_attr_out, 104 bytes). */
export function replyAttr(unique: bigint, attr: Attr, ttl: number): Uint8Array[] {
  const t = ttlParts(ttl);
  return fixed(unique, SIZE.ATTR_OUT, (b) => {
    b.writeBigUInt64LE(t.sec, 16);
    b.writeUInt32LE(t.nsec, 24);
    encodeAttr(b, 32, attr);
  });
}

/**
 * OPEN/OPENDIR's answer (fuse_open_out, 16 bytes: fh, open_flags, backing_id). A backing id
 * (from FUSE_DEV_IOC_BACKING_OPEN) goes with FOPEN.PASSTHROUGH in `openFlags`.
 */
export function replyOpen(unique: bigint, fh: bigint, openFlags: number, backingId = 0): Uint8Array[] {
  bounded(openFlags, 0xffff_ffff, 'open flags');
  if (!Number.isInteger(backingId) || backingId < 0 || backingId > 0x7fff_ffff) throw new WireError(`backing id ${backingId} not a positive i32`);
  u64(fh, 'fh');
  return fixed(unique, SIZE.OPEN_OUT, (b) => {
    b.writeBigUInt64LE(fh, 16);
    b.writeUInt32LE(openFlags, 24);
    b.writeInt32LE(backingId, 28);
  });
}

/** READ's answer: the header and the caller's bytes as the second part (not copied). */
export function replyData(unique: bigint, data: Uint8Array): Uint8Array[] {
  return data.length === 0 ? [outHeader(unique, 0, 0)] : [outHeader(unique, 0, data.length), data];
}

/** READLINK's answer: the target's bytes, without a NUL. */
export function replyReadlink(unique: bigint, target: string | Uint8Array): Uint8Array[] {
  const bytes = typeof target === 'string' ? Buffer.from(target, 'utf8') : target;
  if (bytes.length === 0) throw new WireError('symlink target is empty');
  return replyData(unique, bytes);
}

/**
 * GETXATTR/LISTXATTR's answer: a number answers a size probe (request size 0) with
 * fuse_getxattr_out; bytes are the value (or the NUL-separated name list) itself.
 */
export function replyXattr(unique: bigint, valueOrSize: Uint8Array | number): Uint8Array[] {
  if (typeof valueOrSize !== 'number') return replyData(unique, valueOrSize);
  bounded(valueOrSize, 0xffff_ffff, 'xattr size');
  return fixed(unique, SIZE.GETXATTR_OUT, (b) => b.writeUInt32LE(valueOrSize, 16));
}

const STATFS_COUNTS = ['blocks', 'bfree', 'bavail', 'files', 'ffree'];

export interface Statfs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** STATFS's answer (fuse_statfs_out = fuse_kstatfs, 80 bytes). */
export function replyStatfs(unique: bigint, s: Statfs): Uint8Array[] {
  const counts = [s.blocks, s.bfree, s.bavail, s.files, s.ffree].map((n, i) => safeCount(n, `statfs ${STATFS_COUNTS[i]}`));
  const sizes = [bounded(s.bsize, 0xffff_ffff, 'bsize'), bounded(s.namelen, 0xffff_ffff, 'namelen'), bounded(s.frsize, 0xffff_ffff, 'frsize')];
  return fixed(unique, SIZE.KSTATFS, (b) => {
    counts.forEach((n, i) => b.writeBigUInt64LE(n, 16 + i * 8));
    sizes.forEach((n, i) => b.writeUInt32LE(n, 56 + i * 4));
  });
}

export interface InitReply {
  major: number;
  minor: number;
  maxReadahead: number;
  /** flags | flags2 << 32 (INIT.*); INIT_EXT is added when a bit above 31 is set. */
  flags: bigint;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  /** Time granularity in ns (1 for nanosecond times). */
  timeGran: number;
  /** The most pages in one request (MAX_PAGES flag); max_read/size = maxPages * page size. */
  maxPages: number;
  mapAlignment?: number;
  /** Passthrough: how many stacked file systems the backing files may sit on (1 or 2). */
  maxStackDepth?: number;
  /** REQUEST_TIMEOUT (7.43): seconds before the kernel aborts an unanswered request. */
  requestTimeout?: number;
}

/** INIT's answer (fuse_init_out, 64 bytes). */
export function replyInit(unique: bigint, r: InitReply): Uint8Array[] {
  let flags = r.flags;
  u64(flags, 'init flags');
  if (flags >> 32n !== 0n) flags |= INIT.INIT_EXT;
  const u16 = (n: number, what: string): number => bounded(n, 0xffff, what);
  const u32 = (n: number, what: string): number => bounded(n, 0xffff_ffff, what);
  const words: [number, 2 | 4, number][] = [
    [0, 4, u32(r.major, 'major')],
    [4, 4, u32(r.minor, 'minor')],
    [8, 4, u32(r.maxReadahead, 'maxReadahead')],
    [12, 4, Number(flags & 0xffff_ffffn)],
    [16, 2, u16(r.maxBackground, 'maxBackground')],
    [18, 2, u16(r.congestionThreshold, 'congestionThreshold')],
    [20, 4, u32(r.maxWrite, 'maxWrite')],
    [24, 4, u32(r.timeGran, 'timeGran')],
    [28, 2, u16(r.maxPages, 'maxPages')],
    [30, 2, u16(r.mapAlignment ?? 0, 'mapAlignment')],
    [32, 4, Number(flags >> 32n)],
    [36, 4, u32(r.maxStackDepth ?? 0, 'maxStackDepth')],
    [40, 2, u16(r.requestTimeout ?? 0, 'requestTimeout')],
  ];
  return fixed(unique, SIZE.INIT_OUT, (b) => {
    for (const [at, width, v] of words) {
      if (width === 2) b.writeUInt16LE(v, 16 + at);
      else b.writeUInt32LE(v, 16 + at);
    }
  });
}
