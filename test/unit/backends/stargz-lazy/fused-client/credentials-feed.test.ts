import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { RegistryCredentialsChange, RegistryCredentialSource, RepositoryCredentials } from '../../../../../core/contract/registry-credentials.js';
import { NotFoundError } from '../../../../../core/sdk.js';
import { CredentialsFeed, NO_PULL_SECRETS, type CredentialsSink, type PullSecretEntries } from '../../../../../backends/stargz-lazy/fused-client/credentials-feed.js';
import { credentialsRequestSchema, MAX_CREDENTIALS_BODY_BYTES, MAX_REPOSITORY_CHANGES, type CredentialsRequestInput, type WireHostCredentials } from '../../../../../backends/stargz-lazy/protocol/credentials-protocol.js';
import { FusedUnreachableError } from '../../../../../backends/stargz-lazy/protocol/fused-errors.js';
import { PushedCredentials } from '../../../../../backends/stargz-lazy/registry/pushed-credentials.js';

const SECRET = 'pa55-never-logged';

/** A credential source the test drives (the CRI proxy's role). */
function testSource(initial: RepositoryCredentials[] = []) {
  const listeners = new Set<(c: RegistryCredentialsChange) => void>();
  const known = new Map(initial.map((c) => [`${c.host}/${c.repository}`, c]));
  const source: RegistryCredentialSource = {
    current: () => [...known.values()],
    subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
  };
  const emit = (c: RegistryCredentialsChange) => {
    if (c.type === 'set') known.set(`${c.credentials.host}/${c.credentials.repository}`, c.credentials);
    else known.delete(`${c.host}/${c.repository}`);
    for (const l of listeners) l(c);
  };
  return { source, emit, listeners };
}

const creds = (repository: string, password = SECRET, host = 'r.example'): RepositoryCredentials => ({
  host,
  repository,
  auth: { kind: 'password', username: 'u', password },
  updatedAt: 0,
});

/** A FUSE process stand-in: validates each request as the process does and applies it to a real store. */
function testSink(fail?: (r: CredentialsRequestInput) => Error | undefined) {
  const requests: CredentialsRequestInput[] = [];
  const store = new PushedCredentials(pino({ level: 'silent' }));
  const sink: CredentialsSink = {
    credentials: async (r) => {
      requests.push(r);
      const err = fail?.(r);
      if (err) throw err;
      expect(Buffer.byteLength(JSON.stringify(r))).toBeLessThanOrEqual(MAX_CREDENTIALS_BODY_BYTES);
      return store.apply(credentialsRequestSchema.parse(r));
    },
  };
  return { sink, requests, store };
}

function capture() {
  const lines: string[] = [];
  const log = pino({ level: 'trace' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
  return { log, lines };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('the credentials feed (daemon to FUSE process)', () => {
  it('tells a process everything known when it attaches, then each change', async () => {
    const { source, emit } = testSource([creds('a'), creds('b')]);
    const { log, lines } = capture();
    const feed = new CredentialsFeed({ source, log });
    const { sink, store } = testSink();
    await feed.attach(sink);
    expect(store.counts().repositories).toBe(2);
    emit({ type: 'set', credentials: creds('c') });
    emit({ type: 'forget', host: 'r.example', repository: 'a' });
    await tick();
    expect(store.lookup('r.example', 'a')).toBeUndefined();
    expect(store.lookup('r.example', 'c')?.credentials).toEqual({ username: 'u', password: SECRET });
    expect(feed.pending).toEqual({ repositories: 2, sets: 0, forgets: 0, pullSecrets: false });
    expect(lines.join('')).not.toContain(SECRET);
    feed.close();
  });

  it('tells a new process (after a restart: memory only) everything again, and forgets that it missed', async () => {
    const { source, emit } = testSource([creds('a')]);
    const feed = new CredentialsFeed({ source, log: pino({ level: 'silent' }), retryDelaysMs: [60_000] });
    const first = testSink();
    await feed.attach(first.sink);
    let down = true;
    const dead = testSink(() => (down ? new FusedUnreachableError('gone') : undefined));
    await feed.attach(dead.sink);
    emit({ type: 'set', credentials: creds('b') });
    emit({ type: 'forget', host: 'r.example', repository: 'a' });
    await tick();
    expect(feed.pending.forgets).toBe(1);
    down = false;
    const second = testSink();
    // a process that outlived the daemon holds an old entry: the forget reaches it
    second.store.apply(credentialsRequestSchema.parse({ set: [{ host: 'r.example', repository: 'a', auth: { kind: 'password', username: 'u', password: 'x' } }] }));
    await feed.attach(second.sink);
    expect(second.store.lookup('r.example', 'a')).toBeUndefined();
    expect(second.store.lookup('r.example', 'b')).toBeDefined();
    expect(feed.pending).toEqual({ repositories: 1, sets: 0, forgets: 0, pullSecrets: false });
    feed.close();
  });

  it('retries a failed send with backoff until it is delivered', async () => {
    const { source, emit } = testSource();
    const { log, lines } = capture();
    const feed = new CredentialsFeed({ source, log, retryDelaysMs: [20] });
    let failures = 2;
    const { sink, store, requests } = testSink(() => (failures-- > 0 ? new FusedUnreachableError('busy') : undefined));
    await feed.attach(sink);
    emit({ type: 'set', credentials: creds('a') });
    for (let i = 0; i < 50 && store.counts().repositories === 0; i++) await tick();
    expect(store.counts().repositories).toBe(1);
    expect(requests.length).toBe(3);
    expect(lines.filter((l) => l.includes('retrying')).length).toBe(2);
    expect(lines.join('')).not.toContain(SECRET);
    feed.close();
  });

  it('stops sending to a process that predates the request', async () => {
    const { source, emit } = testSource([creds('a')]);
    const feed = new CredentialsFeed({ source, log: pino({ level: 'silent' }) });
    const { sink, requests } = testSink(() => new NotFoundError('no such control request: POST /v1/credentials'));
    await feed.attach(sink);
    emit({ type: 'set', credentials: creds('b') });
    await tick();
    expect(requests).toHaveLength(1);
    feed.close();
  });

  it('splits many changes into requests the process accepts', async () => {
    const many = Array.from({ length: 1300 }, (_, i) => creds(`repo${i}`, 'p'.repeat(2000)));
    const { source } = testSource(many);
    const feed = new CredentialsFeed({ source, log: pino({ level: 'silent' }) });
    const { sink, store, requests } = testSink();
    await feed.attach(sink);
    expect(store.counts().repositories).toBe(1300);
    expect(requests.length).toBeGreaterThan(2);
    for (const r of requests) expect((r.set?.length ?? 0) + (r.forget?.length ?? 0)).toBeLessThanOrEqual(MAX_REPOSITORY_CHANGES);
    feed.close();
  });

  it('leaves out (and names) credentials the process would refuse, sending the rest', async () => {
    const { source } = testSource([creds('Bad/Upper'), creds('good'), { ...creds('nl'), auth: { kind: 'password', username: 'u', password: `${SECRET}\n` } }]);
    const { log, lines } = capture();
    const feed = new CredentialsFeed({ source, log });
    const { sink, store } = testSink();
    await feed.attach(sink);
    expect(store.counts().repositories).toBe(1);
    expect(lines.filter((l) => l.includes('invalid')).length).toBe(2);
    expect(lines.join('')).not.toContain(SECRET);
    feed.close();
  });

  it('sends the pull secrets as a replace, on attach and on each change', async () => {
    let entries: WireHostCredentials[] | undefined = [{ host: 'h.example', auth: { kind: 'registryToken', registryToken: SECRET } }];
    const listeners = new Set<() => void>();
    const secrets: PullSecretEntries = { entries: () => entries, subscribe: (l) => (listeners.add(l), () => listeners.delete(l)) };
    const { source, listeners: sourceListeners } = testSource();
    let closed = 0;
    const feed = new CredentialsFeed({ source, pullSecrets: secrets, log: pino({ level: 'silent' }), onClose: () => closed++ });
    const { sink, store } = testSink();
    await feed.attach(sink);
    expect(store.lookup('h.example', 'x')?.source).toBe('pull-secrets');
    entries = [{ host: 'other.example', auth: { kind: 'registryToken', registryToken: 't' } }];
    for (const l of listeners) l();
    await tick();
    expect(store.lookup('h.example', 'x')).toBeUndefined();
    expect(store.lookup('other.example', 'x')).toBeDefined();
    feed.close();
    feed.close();
    expect(closed).toBe(1);
    expect(sourceListeners.size).toBe(0);
  });

  it('with no pull secrets configured, clears those a process kept from an earlier daemon', async () => {
    const { source } = testSource();
    const feed = new CredentialsFeed({ source, pullSecrets: NO_PULL_SECRETS, log: pino({ level: 'silent' }) });
    const { sink, store } = testSink();
    store.apply(credentialsRequestSchema.parse({ replace: { source: 'pull-secrets', entries: [{ host: 'old.example', auth: { kind: 'registryToken', registryToken: 't' } }] } }));
    await feed.attach(sink);
    expect(store.lookup('old.example', 'x')).toBeUndefined();
    feed.close();
  });

  it('never spins: a source that never looks delivered costs a bounded number of requests per flush', async () => {
    const restless: PullSecretEntries = { entries: () => [], subscribe: () => () => undefined }; // a new array each time
    const { source } = testSource();
    const feed = new CredentialsFeed({ source, pullSecrets: restless, log: pino({ level: 'silent' }) });
    const { sink, requests } = testSink();
    await feed.attach(sink);
    expect(requests.length).toBeGreaterThan(1);
    expect(requests.length).toBeLessThanOrEqual(256);
    feed.close();
  }, 10_000);
});
