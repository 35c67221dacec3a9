/**
 * Encoding of the replies written to /dev/fuse: parts for one writev, a fuse_out_header (16
 * bytes: len, error, unique) then the body, then bulk data as the caller's own bytes (no copy).
 * Readdir replies are built by DirentWriter (dirent-writer.ts), notifications by notify.ts.
 */
import { type Attr, encodeAttr } from './attr.js';
import { SIZE } from './layout.js';
import { INIT } from './opcodes.js';
import { WireError } from './wire-error.js';

const U64_MAX = (1n << 64n) - 1n;

/** The header of a message of `bodyLength` bytes after it; `error` is 0, -errno, or a notify code. */
export function outHeader(unique: bigint, error: number, bodyLength: number): Uint8Array {
  const total = SIZE.OUT_HEADER + bodyLength;
  if (total > 0xffff_ffff) throw new WireError(`reply of ${total} bytes does not fit fuse_out_header.len`);
  if (unique < 0n || unique > U64_MAX) throw new WireError(`unique ${unique} is not a u64`);
  const h = new Uint8Array(SIZE.OUT_HEADER);
  const v = new DataView(h.buffer);
  v.setUint32(0, total, true);
  v.setInt32(4, error, true);
  v.setBigUint64(8, unique, true);
  return h;
}

/** A reply of a fixed-size body that `fill` writes. */
function fixed(unique: bigint, size: number, fill: (v: DataView) => void): Uint8Array[] {
  const buf = new Uint8Array(SIZE.OUT_HEADER + size);
  const v = new DataView(buf.buffer);
  v.setUint32(0, buf.length, true);
  v.setInt32(4, 0, true);
  v.setBigUint64(8, unique, true);
  fill(new DataView(buf.buffer, SIZE.OUT_HEADER));
  return [buf];
}

/** A time to live in seconds (fractions allowed) as the valid + valid_nsec pair. */
export function ttlParts(seconds: number): { sec: bigint; nsec: number } {
  if (!Number.isFinite(seconds) || seconds < 0) throw new WireError(`ttl ${seconds} is not a non-negative number`);
  const whole = Math.floor(seconds);
  const nsec = Math.min(999_999_999, Math.round((seconds - whole) * 1e9));
  return { sec: BigInt(whole), nsec };
}

function bounded(n: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new WireError(`${what} ${n} is not in 0..${max}`);
  return n;
}

function u64(v: bigint, what: string): bigint {
  if (v < 0n || v > U64_MAX) throw new WireError(`${what} ${v} is not a u64`);
  return v;
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

/** Writes a fuse_entry_out at `at` of `v` (generation 0). Shared with readdirplus. */
export function encodeEntry(v: DataView, at: number, nodeid: bigint, attr: Attr, entryTtl: number, attrTtl: number): void {
  const e = ttlParts(entryTtl);
  const a = ttlParts(attrTtl);
  v.setBigUint64(at + 0, u64(nodeid, 'nodeid'), true);
  v.setBigUint64(at + 8, 0n, true);
  v.setBigUint64(at + 16, e.sec, true);
  v.setBigUint64(at + 24, a.sec, true);
  v.setUint32(at + 32, e.nsec, true);
  v.setUint32(at + 36, a.nsec, true);
  encodeAttr(v, at + 40, attr);
}

/**
 * LOOKUP's answer (fuse_entry_out, 128 bytes). Each one the kernel receives with a nodeid other
 * than 0 counts one lookup that a FORGET later returns. nodeid 0 caches a negative entry for
 * entryTtl (the answer to a missing name that the kernel may remember).
 */
export function replyEntry(unique: bigint, nodeid: bigint, attr: Attr, entryTtl: number, attrTtl: number): Uint8Array[] {
  return fixed(unique, SIZE.ENTRY_OUT, (v) => encodeEntry(v, 0, nodeid, attr, entryTtl, attrTtl));
}

/** GETATTR's answer (fuse_attr_out, 104 bytes). */
export function replyAttr(unique: bigint, attr: Attr, ttl: number): Uint8Array[] {
  return fixed(unique, SIZE.ATTR_OUT, (v) => {
    const t = ttlParts(ttl);
    v.setBigUint64(0, t.sec, true);
    v.setUint32(8, t.nsec, true);
    v.setUint32(12, 0, true);
    encodeAttr(v, 16, attr);
  });
}

/**
 * OPEN/OPENDIR's answer (fuse_open_out, 16 bytes: fh, open_flags, backing_id). A backing id
 * (from FUSE_DEV_IOC_BACKING_OPEN) goes with FOPEN.PASSTHROUGH in `openFlags`.
 */
export function replyOpen(unique: bigint, fh: bigint, openFlags: number, backingId = 0): Uint8Array[] {
  bounded(openFlags, 0xffff_ffff, 'open flags');
  if (!Number.isInteger(backingId) || backingId < 0 || backingId > 0x7fff_ffff) throw new WireError(`backing id ${backingId} not a positive i32`);
  return fixed(unique, SIZE.OPEN_OUT, (v) => {
    v.setBigUint64(0, u64(fh, 'fh'), true);
    v.setUint32(8, openFlags, true);
    v.setInt32(12, backingId, true);
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
  return fixed(unique, SIZE.GETXATTR_OUT, (v) => v.setUint32(0, valueOrSize, true));
}

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
  return fixed(unique, SIZE.KSTATFS, (v) => {
    const fields = [s.blocks, s.bfree, s.bavail, s.files, s.ffree] as const;
    fields.forEach((n, i) => {
      if (!Number.isSafeInteger(n) || n < 0) throw new WireError(`statfs field ${i} ${n} is not a count`);
      v.setBigUint64(i * 8, BigInt(n), true);
    });
    v.setUint32(40, bounded(s.bsize, 0xffff_ffff, 'bsize'), true);
    v.setUint32(44, bounded(s.namelen, 0xffff_ffff, 'namelen'), true);
    v.setUint32(48, bounded(s.frsize, 0xffff_ffff, 'frsize'), true);
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
  if (flags < 0n || flags > U64_MAX) throw new WireError(`init flags ${flags} not a u64`);
  if (flags >> 32n !== 0n) flags |= INIT.INIT_EXT;
  const u16 = (n: number, what: string): number => bounded(n, 0xffff, what);
  const u32 = (n: number, what: string): number => bounded(n, 0xffff_ffff, what);
  return fixed(unique, SIZE.INIT_OUT, (v) => {
    v.setUint32(0, u32(r.major, 'major'), true);
    v.setUint32(4, u32(r.minor, 'minor'), true);
    v.setUint32(8, u32(r.maxReadahead, 'maxReadahead'), true);
    v.setUint32(12, Number(flags & 0xffff_ffffn), true);
    v.setUint16(16, u16(r.maxBackground, 'maxBackground'), true);
    v.setUint16(18, u16(r.congestionThreshold, 'congestionThreshold'), true);
    v.setUint32(20, u32(r.maxWrite, 'maxWrite'), true);
    v.setUint32(24, u32(r.timeGran, 'timeGran'), true);
    v.setUint16(28, u16(r.maxPages, 'maxPages'), true);
    v.setUint16(30, u16(r.mapAlignment ?? 0, 'mapAlignment'), true);
    v.setUint32(32, Number(flags >> 32n), true);
    v.setUint32(36, u32(r.maxStackDepth ?? 0, 'maxStackDepth'), true);
    v.setUint16(40, u16(r.requestTimeout ?? 0, 'requestTimeout'), true);
  });
}
