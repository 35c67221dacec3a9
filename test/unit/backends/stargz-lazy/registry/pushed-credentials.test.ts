import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { credentialsRequestSchema, type CredentialsRequestInput } from '../../../../../backends/stargz-lazy/protocol/credentials-protocol.js';
import { PushedCredentials, type CredentialsTouched } from '../../../../../backends/stargz-lazy/registry/pushed-credentials.js';

const log = pino({ level: 'silent' });
const req = (r: CredentialsRequestInput) => credentialsRequestSchema.parse(r);
const pw = (password: string) => ({ kind: 'password' as const, username: 'u', password });

describe('credentials pushed into the FUSE process', () => {
  it('answers a repository first, then the longest pull-secret prefix, then nothing', () => {
    const store = new PushedCredentials(log);
    store.apply(
      req({
        set: [{ host: 'r.example', repository: 'team/app', auth: pw('repo') }],
        replace: {
          source: 'pull-secrets',
          entries: [
            { host: 'r.example', auth: pw('host') },
            { host: 'r.example', path: 'team', auth: pw('team') },
            { host: 'r.example', path: 'team/deep', auth: pw('deep') },
          ],
        },
      }),
    );
    expect(store.lookup('r.example', 'team/app')).toEqual({ credentials: { username: 'u', password: 'repo' }, source: 'repository' });
    expect(store.lookup('r.example', 'team/other')?.credentials).toEqual({ username: 'u', password: 'team' });
    expect(store.lookup('r.example', 'team/deep/x')?.credentials).toEqual({ username: 'u', password: 'deep' });
    expect(store.lookup('r.example', 'teamx/a')?.credentials).toEqual({ username: 'u', password: 'host' });
    expect(store.lookup('r.example', undefined)?.credentials).toEqual({ username: 'u', password: 'host' });
    expect(store.lookup('other.example', 'team/app')).toBeUndefined();
  });

  it('merges: a request keeps what it does not name; forget and replace take away', () => {
    const store = new PushedCredentials(log);
    store.apply(req({ set: [{ host: 'a', repository: 'x', auth: pw('1') }] }));
    store.apply(req({ set: [{ host: 'a', repository: 'y', auth: pw('2') }] }));
    expect(store.counts()).toEqual({ repositories: 2, sources: { 'pull-secrets': 0 } });
    store.apply(req({ forget: [{ host: 'a', repository: 'x' }] }));
    expect(store.lookup('a', 'x')).toBeUndefined();
    expect(store.lookup('a', 'y')).toBeDefined();
    store.apply(req({ replace: { source: 'pull-secrets', entries: [{ host: 'a', auth: pw('h') }] } }));
    store.apply(req({ replace: { source: 'pull-secrets', entries: [] } }));
    expect(store.lookup('a', 'x')).toBeUndefined();
  });

  it('tells listeners exactly what changed', () => {
    const store = new PushedCredentials(log);
    const seen: CredentialsTouched[][] = [];
    store.onChange((t) => seen.push(t));
    store.apply(req({ set: [{ host: 'a', repository: 'x', auth: pw('1') }] }));
    store.apply(req({ set: [{ host: 'a', repository: 'x', auth: pw('1') }] })); // the same again: nothing
    store.apply(req({ set: [{ host: 'a', repository: 'x', auth: pw('2') }] }));
    store.apply(req({ forget: [{ host: 'a', repository: 'x' }, { host: 'a', repository: 'never' }] }));
    store.apply(req({ replace: { source: 'pull-secrets', entries: [{ host: 'h1', auth: pw('1') }, { host: 'h2', auth: pw('1') }] } }));
    store.apply(req({ replace: { source: 'pull-secrets', entries: [{ host: 'h1', auth: pw('1') }, { host: 'h2', auth: pw('2') }] } }));
    expect(seen).toEqual([
      [{ host: 'a', repository: 'x' }],
      [{ host: 'a', repository: 'x' }],
      [{ host: 'a', repository: 'x' }],
      [{ host: 'h1' }, { host: 'h2' }],
      [{ host: 'h2' }],
    ]);
  });

  it('holds at most its bound of repositories, dropping the least recently set', () => {
    const store = new PushedCredentials(log, 3);
    for (const r of ['a', 'b', 'c']) store.apply(req({ set: [{ host: 'h', repository: r, auth: pw(r) }] }));
    store.apply(req({ set: [{ host: 'h', repository: 'a', auth: pw('a2') }] })); // a is the newest now
    store.apply(req({ set: [{ host: 'h', repository: 'd', auth: pw('d') }] }));
    expect(store.counts().repositories).toBe(3);
    expect(store.lookup('h', 'b')).toBeUndefined();
    expect(store.lookup('h', 'a')?.credentials).toEqual({ username: 'u', password: 'a2' });
  });
});
