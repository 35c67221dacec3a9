/**
 * DirentWriter: fuse_dirent and fuse_direntplus records at fuse.h's offsets, 8-byte aligned with
 * zero padding, never more than the size asked for, and names that could escape refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirentWriter } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/dirent-writer.js';
import { DT } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { ATTR, expectAttrAt } from './attr-fixture.js';
import { joined } from './build-request.js';

/** Walks the records of a reply body: what the kernel's parse_dirfile / parse_dirplusfile do. */
function records(body: Buffer, plus: boolean): { at: number; ino: bigint; off: bigint; name: string; type: number; len: number }[] {
  const out = [];
  let at = 0;
  const prefix = plus ? 128 : 0;
  while (at < body.length) {
    const d = at + prefix;
    const namelen = body.readUInt32LE(d + 16);
    const len = (prefix + 24 + namelen + 7) & ~7;
    out.push({ at, ino: body.readBigUInt64LE(d), off: body.readBigUInt64LE(d + 8), type: body.readUInt32LE(d + 20), name: body.subarray(d + 24, d + 24 + namelen).toString(), len });
    expect(body.subarray(d + 24 + namelen, at + len).every((x) => x === 0)).toBe(true);
    at += len;
  }
  expect(at).toBe(body.length);
  return out;
}

describe('DirentWriter', () => {
  it('READDIR: fuse_dirent records (ino, off, namelen, type, name), padded to 8', () => {
    const w = new DirentWriter(4096, false);
    expect(w.add('.', 1n, DT.DIR, 1)).toBe(true);
    expect(w.add('a-file', 0x1_0000_0000n, DT.REG, 2)).toBe(true);
    const b = joined(w.parts(12n));
    expect([b.readUInt32LE(0), b.readInt32LE(4), b.readBigUInt64LE(8)]).toEqual([16 + 32 + 32, 0, 12n]);
    expect(records(b.subarray(16), false)).toEqual([
      { at: 0, ino: 1n, off: 1n, name: '.', type: DT.DIR, len: 32 },
      { at: 32, ino: 0x1_0000_0000n, off: 2n, name: 'a-file', type: DT.REG, len: 32 },
    ]);
  });
  it('READDIRPLUS: fuse_entry_out then fuse_dirent; without an entry the entry is zero', () => {
    const w = new DirentWriter(4096, true);
    expect(w.add('..', 1n, DT.DIR, 1)).toBe(true);
    expect(w.add('bin', 9n, DT.LNK, 2, { attr: ATTR, entryTtl: 86400, attrTtl: 86400 })).toBe(true);
    const body = joined(w.parts(1n)).subarray(16);
    const rs = records(body, true);
    expect(rs.map((r) => [r.name, r.ino, r.off, r.type, r.len])).toEqual([['..', 1n, 1n, DT.DIR, 160], ['bin', ATTR.ino, 2n, DT.LNK, 160]]);
    expect(body.subarray(0, 128).every((x) => x === 0)).toBe(true);
    expect(body.readBigUInt64LE(160)).toBe(9n); // entry nodeid
    expect(body.readBigUInt64LE(160 + 16)).toBe(86400n); // entry_valid
    expectAttrAt(body, 160 + 40);
  });
  it('refuses an entry that does not fit, writing nothing; an empty reply ends the directory', () => {
    const w = new DirentWriter(40, false);
    expect(w.add('x'.repeat(16), 1n, DT.REG, 1)).toBe(true); // 24 + 16 = 40
    expect(w.add('y', 2n, DT.REG, 2)).toBe(false);
    expect(w.length).toBe(40);
    expect(new DirentWriter(100, true).add('z', 1n, DT.REG, 1)).toBe(false); // 128 + 24 + 1 > 100
    expect(joined(new DirentWriter(4096, true).parts(3n)).length).toBe(16);
  });
  it('refuses names that are empty, over 255 bytes, or hold "/" or NUL', () => {
    const w = new DirentWriter(8192, false);
    for (const bad of ['', 'a/b', 'a\0b', 'é'.repeat(128)]) expect(() => w.add(bad, 1n, DT.REG, 1)).toThrow(WireError);
    expect(w.add('é'.repeat(127), 1n, DT.REG, 1)).toBe(true); // 254 bytes
    expect(w.length).toBe((24 + 254 + 7) & ~7);
  });
  it('an entry whose attributes do not encode leaves no bytes behind', () => {
    const w = new DirentWriter(4096, true);
    expect(() => w.add('bad', 2n, DT.REG, 1, { attr: { ...ATTR, size: -1 }, entryTtl: 1, attrTtl: 1 })).toThrow(WireError);
    expect(w.add('ok', 3n, DT.REG, 2)).toBe(true);
    const body = joined(w.parts(1n)).subarray(16);
    expect(body.subarray(0, 128).every((x) => x === 0)).toBe(true);
  });
  it('property: never more than size bytes, every record 8-aligned and parseable in order', () => {
    const entry = fc.record({
      name: fc.string({ minLength: 1, maxLength: 80 }).filter((s) => !s.includes('/') && !s.includes('\0') && Buffer.byteLength(s) <= 255),
      nodeid: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
      type: fc.constantFrom(...Object.values(DT)),
      withEntry: fc.boolean(),
    });
    fc.assert(fc.property(fc.integer({ min: 0, max: 3000 }), fc.boolean(), fc.array(entry, { maxLength: 60 }), (size, plus, entries) => {
      const w = new DirentWriter(size, plus);
      const kept: string[] = [];
      entries.forEach((e, i) => {
        const ok = w.add(e.name, e.nodeid, e.type, i + 1, e.withEntry ? { attr: { ...ATTR, ino: e.nodeid }, entryTtl: 1, attrTtl: 1 } : undefined);
        if (ok) kept.push(e.name);
        expect(w.length).toBeLessThanOrEqual(size);
        expect(w.length % 8).toBe(0);
      });
      const body = joined(w.parts(1n)).subarray(16);
      const rs = records(body, plus);
      expect(rs.map((r) => r.name)).toEqual(kept);
      expect(rs.every((r) => r.at % 8 === 0)).toBe(true);
    }));
  });
});
