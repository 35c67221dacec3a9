import { describe, expect, it } from 'vitest';
import { layerCheckSchema, metricsSchema, mountInfoSchema, mountRequestSchema, openRequestSchema, servedMountSchema, statusSchema } from '../../../../../backends/stargz-lazy/protocol/control-protocol.js';
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

describe('answers', () => {
  const mount = {
    mountpoint: '/r/snapshots/1/fs',
    digest,
    reference: '127.0.0.1:5000/app:1',
    tocDigest: digest,
    state: 'mounted',
    prefetch: { state: 'complete', files: 3, bytes: 50 },
    mountedAt: '2026-01-01T00:00:00.000Z',
    reads: 4,
    bytesRead: 4096,
    readErrors: 0,
    fetchedBytes: 100,
    totalBytes: 100,
    background: { state: 'running', fetchedBytes: 10, totalBytes: 100 },
  };

  it('describe what the process answers', () => {
    expect(mountInfoSchema.parse(mount)).toEqual(mount);
    const check = { mountpoint: mount.mountpoint, served: true, digest, reference: mount.reference, available: false, reason: 'registry down', fetchedBytes: 1, totalBytes: 2 };
    expect(layerCheckSchema.parse(check)).toEqual(check);
    const metrics = {
      registryBytes: 1,
      registryReads: 2,
      cache: { hits: 1, misses: 2, memoryBytes: 3, diskBytes: 4, diskLimitBytes: 0, evictions: 5 },
      readLatency: { buckets: [{ le: 0.01, count: 1 }], sum: 0.005, count: 1 },
      probes: 0,
      vanishedMounts: 0,
    };
    expect(metricsSchema.parse(metrics)).toEqual(metrics);
    const status = { pid: 42, startedAt: mount.mountedAt, configDigest: digest, mounts: 1, warm: true };
    expect(statusSchema.parse(status)).toEqual(status);
    expect(mountInfoSchema.safeParse({ ...mount, state: 'gone' }).success).toBe(false);
  });

  it('the snapshotter reads an older process: progress, prefetch and later counters may be absent', () => {
    const older = { mountpoint: mount.mountpoint, digest, reference: mount.reference, state: 'mounted' };
    expect(servedMountSchema.parse(older)).toEqual(older);
    expect(mountInfoSchema.safeParse(older).success).toBe(false);
    const { vanishedMounts: _, ...metrics } = metricsSchema.parse({
      registryBytes: 0,
      registryReads: 0,
      cache: { hits: 0, misses: 0, memoryBytes: 0, diskBytes: 0, diskLimitBytes: 0, evictions: 0 },
      readLatency: { buckets: [], sum: 0, count: 0 },
      probes: 0,
    });
    expect(metricsSchema.parse(metrics)).toEqual(metrics);
    expect(statusSchema.parse({ pid: 1, startedAt: mount.mountedAt, configDigest: digest, mounts: 0 })).not.toHaveProperty('warm');
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
    expect(fromWireError('constructor', 'x')).toMatchObject({ code: 'INTERNAL', message: 'FUSE process: x' });
    for (const code of ['NOT_FOUND', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'INVALID_ARGUMENT', 'UNAVAILABLE', 'NOT_IMPLEMENTED', 'NOT_ESTARGZ', 'INTERNAL']) {
      expect(fromWireError(code, 'x')).toMatchObject({ code, message: 'FUSE process: x' });
    }
  });
});
