import { describe, expect, it } from 'vitest';
import { mountRequestSchema, openRequestSchema } from '../../../../../backends/stargz-lazy/protocol/control-protocol.js';
import { fromWireError, toWireError } from '../../../../../backends/stargz-lazy/protocol/fused-errors.js';
import { NotEstargzError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { NotFoundError, UnavailableError } from '../../../../../core/sdk.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('mount requests', () => {
  it('accepts a well-formed request', () => {
    const r = { mountpoint: '/var/lib/x/1/fs', reference: '127.0.0.1:5000/app:1', digest, tocDigest: digest, urls: ['https://cdn.example/b'], prefetchBytes: 0 };
    expect(mountRequestSchema.parse(r)).toEqual(r);
  });

  it.each([
    ['a relative mountpoint', { mountpoint: 'x/fs' }],
    ['a mountpoint with ..', { mountpoint: '/a/../b' }],
    ['a trailing slash', { mountpoint: '/a/b/' }],
    ['a NUL byte', { mountpoint: '/a\0b' }],
    ['a bad digest', { digest: 'sha256:XYZ' }],
    ['a negative prefetch', { prefetchBytes: -1 }],
    ['an unknown field', { extra: 1 }],
    ['a bad URL', { urls: ['not a url'] }],
  ])('refuses %s', (_what, change) => {
    expect(mountRequestSchema.safeParse({ mountpoint: '/m', reference: 'r', digest, ...change }).success).toBe(false);
  });
});

describe('open hints', () => {
  it('are mount requests without a mount point or prefetch', () => {
    const r = { reference: '127.0.0.1:5000/app:1', digest, tocDigest: digest, following: [{ digest }] };
    expect(openRequestSchema.parse(r)).toEqual(r);
    expect(openRequestSchema.safeParse({ ...r, mountpoint: '/a/fs' }).success).toBe(false);
    expect(openRequestSchema.safeParse({ ...r, prefetchBytes: 1 }).success).toBe(false);
    expect(openRequestSchema.safeParse({ ...r, digest: 'sha256:XYZ' }).success).toBe(false);
    expect(openRequestSchema.safeParse({ digest }).success).toBe(false);
  });
});

describe('errors on the wire', () => {
  it('keeps the code both ways; not-eStargz has its own code', () => {
    const cases: [unknown, string][] = [
      [new NotEstargzError('no footer'), 'NOT_ESTARGZ'],
      [new VerificationError('TOC', 'sha256:a', 'sha256:b', 'digest mismatch'), 'UNAVAILABLE'],
      [new NotFoundError('gone'), 'NOT_FOUND'],
      [new Error('bug'), 'INTERNAL'],
    ];
    for (const [err, code] of cases) {
      const wire = toWireError(err);
      expect(wire.error.code).toBe(code);
      expect(fromWireError(wire.error.code, wire.error.message)).toMatchObject({ code });
    }
    expect(fromWireError('UNAVAILABLE', 'x')).toBeInstanceOf(UnavailableError);
    expect(fromWireError('SOMETHING_NEW', 'x')).toMatchObject({ code: 'INTERNAL', message: 'FUSE process: x' });
  });
});
