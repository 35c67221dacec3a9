/** Notifications: unique 0, the code in the error field, the body of fuse.h's *_out struct. */
import { describe, expect, it } from 'vitest';
import { notifyInvalEntry, notifyInvalInode, notifyResend } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/notify.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { joined } from './build-request.js';

describe('notify', () => {
  it('FUSE_NOTIFY_RESEND: a bare header, code 7, unique 0', () => {
    const b = joined(notifyResend());
    expect([b.length, b.readUInt32LE(0), b.readInt32LE(4), b.readBigUInt64LE(8)]).toEqual([16, 16, 7, 0n]);
  });
  it('FUSE_NOTIFY_INVAL_INODE: ino, off, len (signed)', () => {
    const b = joined(notifyInvalInode(1n << 63n, -1n, 0n));
    expect([b.readUInt32LE(0), b.readInt32LE(4)]).toEqual([40, 2]);
    expect([b.readBigUInt64LE(16), b.readBigInt64LE(24), b.readBigInt64LE(32)]).toEqual([1n << 63n, -1n, 0n]);
  });
  it('FUSE_NOTIFY_INVAL_ENTRY: parent, namelen, flags, the name and a NUL', () => {
    const b = joined(notifyInvalEntry(5n, 'etc'));
    expect([b.readUInt32LE(0), b.readInt32LE(4), b.readBigUInt64LE(16), b.readUInt32LE(24), b.readUInt32LE(28)]).toEqual([36, 3, 5n, 3, 0]);
    expect(b.subarray(32).toString('latin1')).toBe('etc\0');
    expect(() => notifyInvalEntry(5n, 'a/b')).toThrow(WireError);
  });
});
