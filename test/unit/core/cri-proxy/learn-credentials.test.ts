import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readPull, scrub } from '../../../../core/cri-proxy/learn-credentials.js';
import { capturingLog, pullRequest } from './cri-stub.js';

describe('readPull', () => {
  it('reads the repository and the credentials of a PullImage request', () => {
    const { log } = capturingLog();
    const r = readPull(pullRequest('127.0.0.1:5000/p/app:v1', { username: 'u', password: 'pw-1234' }), log);
    expect(r.repo).toEqual({ host: '127.0.0.1:5000', repository: 'p/app' });
    expect(r.auth).toEqual({ kind: 'password', username: 'u', password: 'pw-1234' });
    expect(r.secrets).toContain('pw-1234');
  });

  it('hostile bytes: never throws, never logs what it was given', () => {
    const { log, text } = capturingLog();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = readPull(Buffer.from(bytes), log);
        expect(Array.isArray(r.secrets)).toBe(true);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 64 }), fc.string({ maxLength: 300 }), (secret, image) => {
        const marker = `S3CR3T${Buffer.from(secret).toString('hex')}`;
        readPull(pullRequest(image, { username: 'u', password: marker, identityToken: marker }), log);
        expect(text()).not.toContain(marker);
      }),
      { numRuns: 300 },
    );
  });
});

describe('scrub', () => {
  it('replaces every secret of 4 characters or more', () => {
    expect(scrub('auth a:b failed for pw-12 and pw-12', ['pw-12', 'ab'])).toBe('auth a:b failed for [redacted] and [redacted]');
  });
});
