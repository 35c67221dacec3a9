/** One set of attributes with every field distinct and awkward, and a field-by-field reader of fuse_attr. */
import { expect } from 'vitest';
import type { Attr } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/attr.js';

export const ATTR: Attr = {
  ino: 0x1_0000_0002n,
  size: 2 ** 40 + 3,
  blocks: 17,
  atimeNs: 1_700_000_000_123_456_789n,
  mtimeNs: -1n, // one nanosecond before the epoch: -1 s + 999999999 ns
  ctimeNs: 5_000_000_000n,
  mode: 0o104755,
  nlink: 2,
  uid: 0xffff_fffe,
  gid: 3,
  rdev: 0x0801,
  blksize: 4096,
};

/** The fuse_attr at `at` of `b`, read field by field from fuse.h's offsets. */
export function expectAttrAt(b: Buffer, at: number, a: Attr = ATTR): void {
  expect(b.readBigUInt64LE(at)).toBe(a.ino);
  expect(b.readBigUInt64LE(at + 8)).toBe(BigInt(a.size));
  expect(b.readBigUInt64LE(at + 16)).toBe(BigInt(a.blocks));
  const t = (secAt: number, nsecAt: number) => b.readBigInt64LE(secAt) * 1_000_000_000n + BigInt(b.readUInt32LE(nsecAt));
  expect(t(at + 24, at + 48)).toBe(a.atimeNs);
  expect(t(at + 32, at + 52)).toBe(a.mtimeNs);
  expect(t(at + 40, at + 56)).toBe(a.ctimeNs);
  expect([at + 48, at + 52, at + 56].every((o) => b.readUInt32LE(o) < 1e9)).toBe(true);
  expect(b.readUInt32LE(at + 60)).toBe(a.mode);
  expect(b.readUInt32LE(at + 64)).toBe(a.nlink);
  expect(b.readUInt32LE(at + 68)).toBe(a.uid);
  expect(b.readUInt32LE(at + 72)).toBe(a.gid);
  expect(b.readUInt32LE(at + 76)).toBe(a.rdev);
  expect(b.readUInt32LE(at + 80)).toBe(a.blksize);
  expect(b.readUInt32LE(at + 84)).toBe(0);
}

