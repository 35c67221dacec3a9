/**
 * File attributes as the kernel takes them (struct fuse_attr, 88 bytes): 64-bit inode numbers and
 * times in nanoseconds, split exactly into seconds and nanoseconds (floor division, so a time
 * before 1970 has negative seconds and nanoseconds in [0, 1e9)).
 */
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
const U64_MAX = (1n << 64n) - 1n;

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

function u32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new WireError(`attr ${what} ${v} is not a u32`);
  return v;
}

function u53(v: number, what: string): bigint {
  if (!Number.isSafeInteger(v) || v < 0) throw new WireError(`attr ${what} ${v} is not a non-negative safe integer`);
  return BigInt(v);
}

function time(view: DataView, secAt: number, nsecAt: number, ns: bigint, what: string): void {
  const { sec, nsec } = splitNs(ns);
  if (sec < -(1n << 63n) || sec >= 1n << 63n) throw new WireError(`attr ${what} ${ns} ns is out of range`);
  view.setBigInt64(secAt, sec, true);
  view.setUint32(nsecAt, nsec, true);
}

/** Writes `attr` as a fuse_attr at `offset` of `view` (flags 0). */
export function encodeAttr(view: DataView, offset: number, attr: Attr): void {
  if (attr.ino < 0n || attr.ino > U64_MAX) throw new WireError(`attr ino ${attr.ino} is not a u64`);
  view.setBigUint64(offset + 0, attr.ino, true);
  view.setBigUint64(offset + 8, u53(attr.size, 'size'), true);
  view.setBigUint64(offset + 16, u53(attr.blocks, 'blocks'), true);
  time(view, offset + 24, offset + 48, attr.atimeNs, 'atime');
  time(view, offset + 32, offset + 52, attr.mtimeNs, 'mtime');
  time(view, offset + 40, offset + 56, attr.ctimeNs, 'ctime');
  view.setUint32(offset + 60, u32(attr.mode, 'mode'), true);
  view.setUint32(offset + 64, u32(attr.nlink, 'nlink'), true);
  view.setUint32(offset + 68, u32(attr.uid, 'uid'), true);
  view.setUint32(offset + 72, u32(attr.gid, 'gid'), true);
  view.setUint32(offset + 76, u32(attr.rdev, 'rdev'), true);
  view.setUint32(offset + 80, u32(attr.blksize, 'blksize'), true);
  view.setUint32(offset + 84, 0, true);
}

/** Reads a fuse_attr (the inverse of encodeAttr; used by tests and the recorder). */
export function decodeAttr(view: DataView, offset: number): Attr {
  const t = (secAt: number, nsecAt: number): bigint =>
    view.getBigInt64(secAt, true) * NS + BigInt(view.getUint32(nsecAt, true));
  return {
    ino: view.getBigUint64(offset, true),
    size: Number(view.getBigUint64(offset + 8, true)),
    blocks: Number(view.getBigUint64(offset + 16, true)),
    atimeNs: t(offset + 24, offset + 48),
    mtimeNs: t(offset + 32, offset + 52),
    ctimeNs: t(offset + 40, offset + 56),
    mode: view.getUint32(offset + 60, true),
    nlink: view.getUint32(offset + 64, true),
    uid: view.getUint32(offset + 68, true),
    gid: view.getUint32(offset + 72, true),
    rdev: view.getUint32(offset + 76, true),
    blksize: view.getUint32(offset + 80, true),
  };
}
