/**
 * decodeRequest against messages laid out by hand from fuse.h: every field of every request a
 * read-only tree serves, and every malformed shape refused with a WireError that still names the
 * request (so the session can answer it).
 */
import { describe, expect, it } from 'vitest';
import { OP, INIT, FUSE_UNIQUE_RESEND } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import { decodeRequest } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/request.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { cstr, fields, request } from './build-request.js';

const decode = (b: Buffer) => decodeRequest(b, b.length);

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    return err as WireError;
  }
  throw new Error('expected a WireError');
}

describe('decodeRequest: the header', () => {
  it('reads unique, nodeid, uid, gid, pid at their offsets, 64-bit values whole', () => {
    const r = decode(request({ opcode: OP.STATFS, unique: 0x1234_5678_9abc_def0n, nodeid: 0xfedc_ba98_7654_3210n, uid: 0xffff_fffe, gid: 5, pid: 77 }));
    expect(r).toEqual({ opcode: OP.STATFS, unique: 0x1234_5678_9abc_def0n, nodeid: 0xfedc_ba98_7654_3210n, uid: 0xffff_fffe, gid: 5, pid: 77, resend: false });
  });
  it('marks a resent request (high bit of unique) and keeps the unique as sent', () => {
    const r = decode(request({ opcode: OP.READLINK, unique: FUSE_UNIQUE_RESEND | 9n }));
    expect(r.resend).toBe(true);
    expect(r.unique).toBe(FUSE_UNIQUE_RESEND | 9n);
  });
  it('decodes only the first `length` bytes of a larger buffer', () => {
    const msg = request({ opcode: OP.LOOKUP }, cstr('etc'));
    const big = Buffer.concat([msg, Buffer.alloc(100, 0x41)]);
    expect(decodeRequest(big, msg.length)).toMatchObject({ opcode: OP.LOOKUP, name: 'etc' });
  });
  it('refuses a short buffer, a length past the buffer, and a header length that disagrees', () => {
    expect(wireError(() => decodeRequest(Buffer.alloc(39), 39)).message).toMatch(/shorter than fuse_in_header/);
    expect(wireError(() => decodeRequest(Buffer.alloc(40), 41)).message).toMatch(/outside the buffer/);
    const e = wireError(() => decode(request({ opcode: OP.GETATTR, unique: 99n, len: 1000 }, fields([4, 0], [4, 0], [8, 0]))));
    expect(e.message).toMatch(/says 1000 bytes, 56 were read/);
    expect([e.unique, e.opcode]).toEqual([99n, OP.GETATTR]);
  });
  it('skips extension headers that trail the body (total_extlen, in 8-byte units)', () => {
    const r = decode(request({ opcode: OP.LOOKUP, ext: Buffer.alloc(16, 0x2f) }, cstr('bin')));
    expect(r).toMatchObject({ opcode: OP.LOOKUP, name: 'bin' });
  });
  it('refuses extension headers longer than the message', () => {
    const b = request({ opcode: OP.STATFS });
    b.writeUInt16LE(1, 36);
    expect(wireError(() => decode(b)).message).toMatch(/extension headers/);
  });
  it('decodes an opcode a read-only tree does not serve as unsupported, with its header', () => {
    expect(decode(request({ opcode: OP.WRITE, unique: 3n }, Buffer.alloc(80)))).toMatchObject({ opcode: OP.WRITE, unique: 3n, unsupported: true });
    expect(decode(request({ opcode: 9999 }))).toMatchObject({ opcode: 9999, unsupported: true });
  });
});

describe('decodeRequest: each served opcode', () => {
  it('LOOKUP name', () => {
    expect(decode(request({ opcode: OP.LOOKUP, nodeid: 5n }, cstr('ä-name')))).toMatchObject({ opcode: OP.LOOKUP, nodeid: 5n, name: 'ä-name' });
  });
  it('FORGET nlookup (64-bit)', () => {
    expect(decode(request({ opcode: OP.FORGET }, fields([8, 1n << 40n])))).toMatchObject({ nlookup: 1n << 40n });
  });
  it('GETATTR flags and fh', () => {
    expect(decode(request({ opcode: OP.GETATTR }, fields([4, 1], [4, 0], [8, 0xffff_ffff_ffffn])))).toMatchObject({ getattrFlags: 1, fh: 0xffff_ffff_ffffn });
  });
  it('READLINK, STATFS, DESTROY carry no body', () => {
    for (const opcode of [OP.READLINK, OP.STATFS, OP.DESTROY]) expect(decode(request({ opcode }))).toMatchObject({ opcode });
  });
  it('OPEN and OPENDIR flags and open_flags', () => {
    for (const opcode of [OP.OPEN, OP.OPENDIR]) {
      expect(decode(request({ opcode }, fields([4, 0o100000], [4, 1])))).toMatchObject({ opcode, flags: 0o100000, openFlags: 1 });
    }
  });
  it('READ, READDIR, READDIRPLUS: fh, offset, size, read_flags, lock_owner, flags', () => {
    for (const opcode of [OP.READ, OP.READDIR, OP.READDIRPLUS]) {
      const body = fields([8, 0x1_0000_0001n], [8, 2 ** 40], [4, 131072], [4, 2], [8, 0xabcn], [4, 0o2], [4, 0]);
      expect(decode(request({ opcode }, body))).toMatchObject({ opcode, fh: 0x1_0000_0001n, offset: 2 ** 40, size: 131072, readFlags: 2, lockOwner: 0xabcn, flags: 2 });
    }
  });
  it('READ refuses an offset of 2^53 or more', () => {
    const body = fields([8, 1n], [8, 1n << 53n], [4, 4096], [4, 0], [8, 0n], [4, 0], [4, 0]);
    expect(wireError(() => decode(request({ opcode: OP.READ, unique: 11n }, body)))).toMatchObject({ unique: 11n, opcode: OP.READ });
  });
  it('RELEASE and RELEASEDIR fh, flags, release_flags, lock_owner', () => {
    for (const opcode of [OP.RELEASE, OP.RELEASEDIR]) {
      expect(decode(request({ opcode }, fields([8, 42n], [4, 0o100000], [4, 1], [8, 5n])))).toMatchObject({ fh: 42n, flags: 0o100000, releaseFlags: 1, lockOwner: 5n });
    }
  });
  it('GETXATTR size and name; LISTXATTR size', () => {
    expect(decode(request({ opcode: OP.GETXATTR }, Buffer.concat([fields([4, 0], [4, 0]), cstr('user.a/b')])))).toMatchObject({ size: 0, name: 'user.a/b' });
    expect(decode(request({ opcode: OP.LISTXATTR }, fields([4, 4096], [4, 0])))).toMatchObject({ size: 4096 });
  });
  it('FLUSH fh and lock_owner', () => {
    expect(decode(request({ opcode: OP.FLUSH }, fields([8, 3n], [4, 0], [4, 0], [8, 0x77n])))).toMatchObject({ fh: 3n, lockOwner: 0x77n });
  });
  it('ACCESS mask; INTERRUPT the unique it interrupts', () => {
    expect(decode(request({ opcode: OP.ACCESS }, fields([4, 4], [4, 0])))).toMatchObject({ mask: 4 });
    expect(decode(request({ opcode: OP.INTERRUPT }, fields([8, 0x8000_0000_0000_0010n])))).toMatchObject({ interrupted: 0x8000_0000_0000_0010n });
  });
  it('INIT: flags2 joins flags above bit 31 only when INIT_EXT is set', () => {
    const withExt = fields([4, 7], [4, 45], [4, 131072], [4, Number(INIT.INIT_EXT | INIT.ASYNC_READ)], [4, 1 << 5], ...Array(11).fill([4, 0]) as [4, number][]);
    expect(decode(request({ opcode: OP.INIT }, withExt))).toMatchObject({ major: 7, minor: 45, maxReadahead: 131072, flags: INIT.INIT_EXT | INIT.ASYNC_READ | INIT.PASSTHROUGH });
    const noExt = Buffer.from(withExt);
    noExt.writeUInt32LE(Number(INIT.ASYNC_READ), 12);
    expect(decode(request({ opcode: OP.INIT }, noExt))).toMatchObject({ flags: INIT.ASYNC_READ });
    const old = fields([4, 7], [4, 31], [4, 65536], [4, 1]);
    expect(decode(request({ opcode: OP.INIT }, old))).toMatchObject({ minor: 31, flags: 1n });
  });
  it('BATCH_FORGET: the list, bounded by the body', () => {
    const body = fields([4, 2], [4, 0], [8, 10n], [8, 1n], [8, 1n << 62n], [8, 3n]);
    expect(decode(request({ opcode: OP.BATCH_FORGET }, body))).toMatchObject({ forgets: [{ nodeid: 10n, nlookup: 1n }, { nodeid: 1n << 62n, nlookup: 3n }] });
    const lying = fields([4, 0xffff_ffff], [4, 0], [8, 10n], [8, 1n]);
    expect(wireError(() => decode(request({ opcode: OP.BATCH_FORGET }, lying))).message).toMatch(/count 4294967295 exceeds the 1 entries/);
  });
});

describe('decodeRequest: bodies too short and bad names', () => {
  const shortBodies: [number, number][] = [
    [OP.FORGET, 8], [OP.GETATTR, 16], [OP.OPEN, 8], [OP.OPENDIR, 8], [OP.READ, 40], [OP.READDIR, 40], [OP.READDIRPLUS, 40],
    [OP.RELEASE, 24], [OP.RELEASEDIR, 24], [OP.GETXATTR, 8], [OP.LISTXATTR, 8], [OP.FLUSH, 24], [OP.INIT, 16],
    [OP.ACCESS, 8], [OP.INTERRUPT, 8], [OP.BATCH_FORGET, 8],
  ];
  it.each(shortBodies)('opcode %i refuses a body of %i - 1 bytes', (opcode, size) => {
    const e = wireError(() => decode(request({ opcode, unique: 5n }, Buffer.alloc(size - 1))));
    expect(e.message).toMatch(/shorter than fuse_/);
    expect([e.unique, e.opcode]).toEqual([5n, opcode]);
  });
  it('LOOKUP refuses a name with "/", without NUL, empty, or over 255 bytes; takes exactly 255', () => {
    expect(wireError(() => decode(request({ opcode: OP.LOOKUP }, cstr('../etc')))).message).toMatch(/contains '\/'/);
    expect(wireError(() => decode(request({ opcode: OP.LOOKUP }, Buffer.from('abc')))).message).toMatch(/not NUL-terminated/);
    expect(wireError(() => decode(request({ opcode: OP.LOOKUP }, cstr('')))).message).toMatch(/empty/);
    expect(wireError(() => decode(request({ opcode: OP.LOOKUP }, cstr('x'.repeat(256))))).message).toMatch(/longer than 255/);
    expect(wireError(() => decode(request({ opcode: OP.LOOKUP }, Buffer.from('a\0b\0')))).message).toMatch(/2 bytes after the file name's NUL/);
    expect(decode(request({ opcode: OP.LOOKUP }, cstr('y'.repeat(255))))).toMatchObject({ name: 'y'.repeat(255) });
  });
  it('GETXATTR refuses an unterminated, over-long or NUL-holding name', () => {
    expect(wireError(() => decode(request({ opcode: OP.GETXATTR }, Buffer.concat([fields([4, 0], [4, 0]), Buffer.from('user.a\0x\0')])))).message).toMatch(/after the xattr name/);
    expect(wireError(() => decode(request({ opcode: OP.GETXATTR }, Buffer.concat([fields([4, 0], [4, 0]), Buffer.from('user.x')])))).message).toMatch(/not NUL/);
    expect(wireError(() => decode(request({ opcode: OP.GETXATTR }, Buffer.concat([fields([4, 0], [4, 0]), cstr('u'.repeat(256))])))).message).toMatch(/longer than 255/);
  });
});
