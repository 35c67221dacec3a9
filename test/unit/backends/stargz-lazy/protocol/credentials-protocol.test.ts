import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_CREDENTIALS_BODY_BYTES,
  MAX_REPOSITORY_CHANGES,
  MAX_SECRET_CHARS,
  MAX_SOURCE_ENTRIES,
  credentialsRequestSchema,
} from '../../../../../backends/stargz-lazy/protocol/credentials-protocol.js';

const set = (over: Record<string, unknown> = {}) => ({ host: '127.0.0.1:5000', repository: 'team/app', auth: { kind: 'password', username: 'u', password: 'p' }, ...over });

describe('POST /v1/credentials requests', () => {
  it('accepts sets, forgets and a pull-secrets replace, with defaults', () => {
    const r = {
      set: [set(), set({ repository: 'a/b', auth: { kind: 'identityToken', identityToken: 't' } }), set({ repository: 'c', auth: { kind: 'registryToken', registryToken: 'r' } })],
      forget: [{ host: 'docker.io', repository: 'library/busybox' }],
      replace: { source: 'pull-secrets', entries: [{ host: 'registry.example.com', path: 'team', auth: { kind: 'password', username: 'u', password: '' } }] },
    };
    expect(credentialsRequestSchema.parse(r)).toEqual(r);
    expect(credentialsRequestSchema.parse({})).toEqual({ set: [], forget: [] });
  });

  it.each([
    ['an unknown field', { extra: 1 }],
    ['an unknown source', { replace: { source: 'other', entries: [] } }],
    ['a host with a scheme', { set: [set({ host: 'https://x.example' })] }],
    ['a host with a path', { set: [set({ host: 'x.example/a' })] }],
    ['an upper-case repository', { set: [set({ repository: 'Team/App' })] }],
    ['a repository with ..', { set: [set({ repository: '../etc' })] }],
    ['an empty user name', { set: [set({ auth: { kind: 'password', username: '', password: 'p' } })] }],
    ['a newline in a password', { set: [set({ auth: { kind: 'password', username: 'u', password: 'a\nb' } })] }],
    ['an oversized token', { set: [set({ auth: { kind: 'registryToken', registryToken: 'x'.repeat(MAX_SECRET_CHARS + 1) } })] }],
    ['an unknown auth kind', { set: [set({ auth: { kind: 'cookie', value: 'x' } })] }],
    ['an auth with an extra field', { set: [set({ auth: { kind: 'registryToken', registryToken: 't', password: 'p' } })] }],
    ['too many changes', { set: Array.from({ length: MAX_REPOSITORY_CHANGES }, () => set()), forget: [{ host: 'a', repository: 'b' }] }],
    ['too many source entries', { replace: { source: 'pull-secrets', entries: Array.from({ length: MAX_SOURCE_ENTRIES + 1 }, () => ({ host: 'a', auth: { kind: 'registryToken', registryToken: 't' } })) } }],
  ])('refuses %s', (_what, body) => {
    expect(credentialsRequestSchema.safeParse(body).success).toBe(false);
  });

  it('names fields, never values, when it refuses', () => {
    const secret = 'hunter2-do-not-print';
    const r = credentialsRequestSchema.safeParse({ set: [set({ repository: 'BAD', auth: { kind: 'password', username: 'u', password: `${secret}\n` } })] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues.map((i) => [i.path, i.message]))).not.toContain(secret);
  });

  it('bounds what any accepted request can hold (property)', () => {
    const auth = fc.oneof(
      fc.record({ kind: fc.constant('password'), username: fc.string({ minLength: 0, maxLength: 2000 }), password: fc.string({ maxLength: 20_000 }) }),
      fc.record({ kind: fc.constant('registryToken'), registryToken: fc.string({ maxLength: 20_000 }) }),
    );
    const entry = fc.record({ host: fc.constantFrom('a.example', '127.0.0.1:5000', 'x'), repository: fc.stringMatching(/^[a-z0-9/._-]{0,300}$/), auth });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), fc.nat({ max: 600 }), (entries, copies) => {
        const body = { set: Array.from({ length: copies }, (_, i) => entries[i % Math.max(1, entries.length)]).filter(Boolean) };
        const r = credentialsRequestSchema.safeParse(body);
        if (!r.success) return;
        expect(r.data.set.length).toBeLessThanOrEqual(MAX_REPOSITORY_CHANGES);
        for (const s of r.data.set) {
          expect(s.repository.length).toBeLessThanOrEqual(255);
          const a = s.auth;
          const secret = a.kind === 'password' ? a.password : a.kind === 'registryToken' ? a.registryToken : a.identityToken;
          expect(secret.length).toBeLessThanOrEqual(MAX_SECRET_CHARS);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('keeps a full pull-secrets replace under the body limit only when its entries are small: the daemon bounds it (read-pull-secrets.ts)', () => {
    const entries = Array.from({ length: MAX_SOURCE_ENTRIES }, (_, i) => ({ host: `h${i}.example`, auth: { kind: 'registryToken', registryToken: 'x'.repeat(1500) } }));
    const body = { replace: { source: 'pull-secrets', entries } };
    expect(credentialsRequestSchema.safeParse(body).success).toBe(true);
    expect(JSON.stringify(body).length).toBeLessThan(MAX_CREDENTIALS_BODY_BYTES);
  });
});
