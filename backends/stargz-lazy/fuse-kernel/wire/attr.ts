/**
 * File attributes as the kernel takes them (struct fuse_attr, 88 bytes): 64-bit inode numbers and
 * times in nanoseconds, split exactly into seconds and nanoseconds (floor division, so a time
 * before 1970 has negative seconds and nanoseconds in [0, 1e9)).
 */
import { bounded, safeCount, u64 } from './bounds.js';
import { WireError } from './wire-error.js';

export interface Attr {
  ino: bigint;
  size: number;
  /** 512-byte blocks. */
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Type and permission bits (S_IFREG | 0o644...). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

export const ATTR_SIZE = 88;
const NS = 1_000_000_000n;

/** Seconds and nanoseconds of a nanosecond time: sec = floor(ns / 1e9), nsec = ns - sec * 1e9. */
export function splitNs(ns: bigint): { sec: bigint; nsec: number } {
  let sec = ns / NS;
  let rem = ns - sec * NS;
  if (rem < 0n) {
    sec -= 1n;
    rem += NS;
  }
  return { sec, nsec: Number(rem) };
}

const u32 = (v: number, what: string): number => bounded(v, 0xffff_ffff, `attr ${what}`);
const u53 = (v: number, what: string): bigint => safeCount(v, `attr ${what}`);

const I64_MIN = -(1n << 63n);
const I64_END = 1n << 63n;

function seconds(ns: bigint, what: string): { sec: bigint; nsec: number } {
  const t = splitNs(ns);
  if (t.sec < I64_MIN || t.sec >= I64_END) throw new WireError(`attr ${what} ${ns} ns is out of range`);
  return t;
}

/**
 * Writes `attr` as a fuse_attr at `offset` of `buf` (flags 0). Every value is checked before
 * the first byte is written, so a refused attr leaves `buf` as it was.
 */
export function encodeAttr(buf: Buffer, offset: number, attr: Attr): void {
  u64(attr.ino, 'attr ino');
  const size = u53(attr.size, 'size');
  const blocks = u53(attr.blocks, 'blocks');
  const a = seconds(attr.atimeNs, 'atime');
  const m = seconds(attr.mtimeNs, 'mtime');
  const c = seconds(attr.ctimeNs, 'ctime');
  const mode = u32(attr.mode, 'mode');
  const nlink = u32(attr.nlink, 'nlink');
  const uid = u32(attr.uid, 'uid');
  const gid = u32(attr.gid, 'gid');
  const rdev = u32(attr.rdev, 'rdev');
  const blksize = u32(attr.blksize, 'blksize');
  buf.writeBigUInt64LE(attr.ino, offset);
  buf.writeBigUInt64LE(size, offset + 8);
  buf.writeBigUInt64LE(blocks, offset + 16);
  buf.writeBigInt64LE(a.sec, offset + 24);
  buf.writeBigInt64LE(m.sec, offset + 32);
  buf.writeBigInt64LE(c.sec, offset + 40);
  buf.writeUInt32LE(a.nsec, offset + 48);
  buf.writeUInt32LE(m.nsec, offset + 52);
  buf.writeUInt32LE(c.nsec, offset + 56);
  buf.writeUInt32LE(mode, offset + 60);
  buf.writeUInt32LE(nlink, offset + 64);
  buf.writeUInt32LE(uid, offset + 68);
  buf.writeUInt32LE(gid, offset + 72);
  buf.writeUInt32LE(rdev, offset + 76);
  buf.writeUInt32LE(blksize, offset + 80);
  buf.writeUInt32LE(0, offset + 84);
}

/** Reads a fuse_attr (the inverse of encodeAttr; used by tests and the recorder). */
export function decodeAttr(buf: Buffer, offset: number): Attr {
  const t = (secAt: number, nsecAt: number): bigint => buf.readBigInt64LE(secAt) * NS + BigInt(buf.readUInt32LE(nsecAt));
  return {
    ino: buf.readBigUInt64LE(offset),
    size: Number(buf.readBigUInt64LE(offset + 8)),
    blocks: Number(buf.readBigUInt64LE(offset + 16)),
    atimeNs: t(offset + 24, offset + 48),
    mtimeNs: t(offset + 32, offset + 52),
    ctimeNs: t(offset + 40, offset + 56),
    mode: buf.readUInt32LE(offset + 60),
    nlink: buf.readUInt32LE(offset + 64),
    uid: buf.readUInt32LE(offset + 68),
    gid: buf.readUInt32LE(offset + 72),
    rdev: buf.readUInt32LE(offset + 76),
    blksize: buf.readUInt32LE(offset + 80),
  };
}
