/**
 * Nanosecond times split exactly into fuse_attr's seconds and nanoseconds (times before 1970
 * included), and attributes surviving encode/decode for any value the fields can hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Attr, decodeAttr, encodeAttr, splitNs } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/attr.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { ATTR, expectAttrAt } from './attr-fixture.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const ns = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n });
const attr: fc.Arbitrary<Attr> = fc.record({
  ino: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  size: fc.maxSafeNat(),
  blocks: fc.maxSafeNat(),
  atimeNs: ns,
  mtimeNs: ns,
  ctimeNs: ns,
  mode: u32,
  nlink: u32,
  uid: u32,
  gid: u32,
  rdev: u32,
  blksize: u32,
});

describe('attr', () => {
  it('splits ns into floor seconds and nanoseconds in [0, 1e9)', () => {
    expect(splitNs(1_500_000_000n)).toEqual({ sec: 1n, nsec: 500_000_000 });
    expect(splitNs(-1n)).toEqual({ sec: -1n, nsec: 999_999_999 });
    expect(splitNs(-1_000_000_000n)).toEqual({ sec: -1n, nsec: 0 });
    fc.assert(fc.property(ns, (t) => {
      const { sec, nsec } = splitNs(t);
      return nsec >= 0 && nsec < 1e9 && sec * 1_000_000_000n + BigInt(nsec) === t;
    }));
  });
  it('encodes every field at its fuse_attr offset', () => {
    const b = Buffer.alloc(88 + 8);
    encodeAttr(b, 8, ATTR);
    expectAttrAt(b, 8);
    expect(b.readBigUInt64LE(0)).toBe(0n);
  });
  it('round-trips any attributes the fields can carry', () => {
    fc.assert(fc.property(attr, (a) => {
      const b = Buffer.alloc(88);
      encodeAttr(b, 0, a);
      expect(decodeAttr(b, 0)).toEqual(a);
    }));
  });
  it('refuses values the fields cannot carry', () => {
    const v = Buffer.alloc(88);
    for (const bad of [{ size: -1 }, { size: 2 ** 53 }, { mode: 2 ** 32 }, { blksize: -1 }, { uid: 1.5 }, { ino: -1n }, { ino: 2n ** 64n }, { ctimeNs: 2n ** 100n }]) {
      expect(() => encodeAttr(v, 0, { ...ATTR, ...bad })).toThrow(WireError);
      expect(v.every((x) => x === 0)).toBe(true); // checked before the first byte is written
    }
  });
});
