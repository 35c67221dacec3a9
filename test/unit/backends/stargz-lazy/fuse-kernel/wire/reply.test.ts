/**
 * The replies byte by byte: every field of fuse_out_header, fuse_entry_out (128), fuse_attr_out
 * (104), fuse_attr (88), fuse_open_out (16), fuse_init_out (64), fuse_kstatfs (80) and
 * fuse_getxattr_out (8) at the offset fuse.h gives it, little-endian.
 */
import { describe, expect, it } from 'vitest';
import { FOPEN, INIT } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import {
  replyAttr, replyData, replyEmpty, replyEntry, replyError, replyInit, replyOpen, replyReadlink, replyStatfs, replyXattr,
} from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/reply.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { ATTR, expectAttrAt } from './attr-fixture.js';
import { joined } from './build-request.js';

function header(b: Buffer, len: number, error: number, unique: bigint): void {
  expect(b.length).toBe(len);
  expect(b.readUInt32LE(0)).toBe(len);
  expect(b.readInt32LE(4)).toBe(error);
  expect(b.readBigUInt64LE(8)).toBe(unique);
}

describe('reply encoders', () => {
  it('replyError: header only, the errno negated; negative input taken as negated', () => {
    header(joined(replyError(0xffff_ffff_ffff_fff0n, 2)), 16, -2, 0xffff_ffff_ffff_fff0n);
    header(joined(replyError(1n, -61)), 16, -61, 1n);
    expect(() => replyError(1n, 0)).toThrow(WireError);
    expect(() => replyError(1n, 5000)).toThrow(WireError);
  });
  it('replyEmpty: a 16-byte header with error 0', () => {
    header(joined(replyEmpty(8n)), 16, 0, 8n);
  });
  it('replyEntry: fuse_entry_out, 128 bytes, ttl split into seconds and nanoseconds', () => {
    const b = joined(replyEntry(4n, 0x8000_0000_0000_0001n, ATTR, 86400.5, 1.25));
    header(b, 16 + 128, 0, 4n);
    expect(b.readBigUInt64LE(16)).toBe(0x8000_0000_0000_0001n); // nodeid
    expect(b.readBigUInt64LE(24)).toBe(0n); // generation
    expect(b.readBigUInt64LE(32)).toBe(86400n); // entry_valid
    expect(b.readBigUInt64LE(40)).toBe(1n); // attr_valid
    expect(b.readUInt32LE(48)).toBe(500_000_000); // entry_valid_nsec
    expect(b.readUInt32LE(52)).toBe(250_000_000); // attr_valid_nsec
    expectAttrAt(b, 56);
    for (const ttl of [-1, Number.NaN, Infinity, 1e300]) expect(() => replyEntry(4n, 1n, ATTR, ttl, 1)).toThrow(WireError);
  });
  it('replyAttr: fuse_attr_out, 104 bytes', () => {
    const b = joined(replyAttr(5n, ATTR, 2));
    header(b, 16 + 104, 0, 5n);
    expect(b.readBigUInt64LE(16)).toBe(2n);
    expect(b.readUInt32LE(24)).toBe(0);
    expect(b.readUInt32LE(28)).toBe(0);
    expectAttrAt(b, 32);
  });
  it('replyOpen: fuse_open_out, 16 bytes (fh, open_flags, backing_id)', () => {
    const b = joined(replyOpen(6n, 0xdead_beef_0000_0001n, FOPEN.KEEP_CACHE | FOPEN.PASSTHROUGH, 3));
    header(b, 32, 0, 6n);
    expect(b.readBigUInt64LE(16)).toBe(0xdead_beef_0000_0001n);
    expect(b.readUInt32LE(24)).toBe(0b1000_0010);
    expect(b.readInt32LE(28)).toBe(3);
    expect(joined(replyOpen(6n, 1n, 0)).readInt32LE(28)).toBe(0);
    expect(() => replyOpen(6n, 1n, 0, -1)).toThrow(WireError);
    expect(() => replyOpen(6n, -1n, 0)).toThrow(WireError);
  });
  it('replyData: the caller\'s bytes as their own part, not copied', () => {
    const data = new Uint8Array([1, 2, 3]);
    const parts = replyData(7n, data);
    expect(parts[1]).toBe(data);
    header(joined(parts), 19, 0, 7n);
    expect(replyData(7n, new Uint8Array(0))).toHaveLength(1);
  });
  it('replyReadlink: the target without NUL', () => {
    const b = joined(replyReadlink(8n, '../lib/x'));
    header(b, 16 + 8, 0, 8n);
    expect(b.subarray(16).toString()).toBe('../lib/x');
  });
  it('replyXattr: a size (fuse_getxattr_out) or the value', () => {
    const s = joined(replyXattr(9n, 300));
    header(s, 24, 0, 9n);
    expect([s.readUInt32LE(16), s.readUInt32LE(20)]).toEqual([300, 0]);
    expect(joined(replyXattr(9n, Buffer.from('v'))).subarray(16).toString()).toBe('v');
  });
  it('replyStatfs: fuse_kstatfs, 80 bytes', () => {
    const b = joined(replyStatfs(10n, { blocks: 2 ** 50, bfree: 0, bavail: 0, files: 12, ffree: 0, bsize: 4096, namelen: 255, frsize: 4096 }));
    header(b, 96, 0, 10n);
    expect([0, 8, 16, 24, 32].map((o) => b.readBigUInt64LE(16 + o))).toEqual([2n ** 50n, 0n, 0n, 12n, 0n]);
    expect([40, 44, 48, 52].map((o) => b.readUInt32LE(16 + o))).toEqual([4096, 255, 4096, 0]);
    expect(b.subarray(16 + 56).every((x) => x === 0)).toBe(true);
  });
  it('replyInit: fuse_init_out, 64 bytes, flags2 = the high half, INIT_EXT added for it', () => {
    const flags = INIT.ASYNC_READ | INIT.MAX_PAGES | INIT.PASSTHROUGH | INIT.HAS_RESEND;
    const b = joined(replyInit(1n, { major: 7, minor: 40, maxReadahead: 131072, flags, maxBackground: 64, congestionThreshold: 48, maxWrite: 4096, timeGran: 1, maxPages: 256, maxStackDepth: 1, requestTimeout: 0 }));
    header(b, 80, 0, 1n);
    const o = 16;
    expect([b.readUInt32LE(o), b.readUInt32LE(o + 4), b.readUInt32LE(o + 8)]).toEqual([7, 40, 131072]);
    expect(b.readUInt32LE(o + 12)).toBe(Number(INIT.ASYNC_READ | INIT.MAX_PAGES | INIT.INIT_EXT));
    expect([b.readUInt16LE(o + 16), b.readUInt16LE(o + 18)]).toEqual([64, 48]);
    expect([b.readUInt32LE(o + 20), b.readUInt32LE(o + 24)]).toEqual([4096, 1]);
    expect([b.readUInt16LE(o + 28), b.readUInt16LE(o + 30)]).toEqual([256, 0]);
    expect(b.readUInt32LE(o + 32)).toBe((1 << 5) | (1 << 7)); // PASSTHROUGH (37), HAS_RESEND (39)
    expect(b.readUInt32LE(o + 36)).toBe(1);
    expect(b.subarray(o + 40).every((x) => x === 0)).toBe(true);
    expect(() => replyInit(1n, { major: 7, minor: 40, maxReadahead: 0, flags: 0n, maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 1, maxPages: 65536 })).toThrow(WireError);
  });
});
