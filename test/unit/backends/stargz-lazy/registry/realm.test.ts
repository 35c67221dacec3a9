/**
 * The realm test: where a Bearer challenge may send the registry's credentials
 * (registry/realm-policy.ts). Registry stubs on 127.0.0.1 (plain HTTP, and HTTPS with a test
 * CA) answer 401 with a realm on their own origin or on another server's, which records every
 * request it gets: a foreign realm named over plain HTTP never sees the Authorization header;
 * the registry's own realm gets the credentials; an HTTPS registry's plain-HTTP realm is refused
 * before any request; an HTTPS registry's HTTPS token service on another origin gets them.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { staticCredentials } from '../../../../../backends/stargz-lazy/registry/credentials.js';
import { realmPolicy } from '../../../../../backends/stargz-lazy/registry/realm-policy.js';
import { RegistryStatusError } from '../../../../../backends/stargz-lazy/registry/registry-errors.js';
import { serveBlob } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { listen, type TestServer } from './servers/listen.js';
import { makeTestPki, type TestPki } from './servers/test-pki.js';
import { testClient, testData, type TestClient } from './servers/test-client.js';

const data = testData(50_000, 5);
const digest = sha256(data);
const user = { username: 'alice', password: 'registry-password' };
const BASIC = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
const cleanup: (() => Promise<void>)[] = [];
let pki: TestPki;

beforeAll(async () => {
  pki = await makeTestPki();
}, 30_000);

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

afterAll(async () => {
  await pki?.remove();
});

interface Seen {
  path: string;
  authorization: string | undefined;
}

/**
 * A token endpoint (at `/token`) that records what it gets and issues `token`; with
 * `needsCredentials`, only to a request carrying the registry's Basic credentials.
 */
function tokenHandler(seen: Seen[], token: string, needsCredentials = false) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!req.url?.startsWith('/token')) return false;
    seen.push({ path: req.url, authorization: req.headers.authorization });
    if (needsCredentials && req.headers.authorization !== BASIC) res.writeHead(401).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
    return true;
  };
}

/** A registry whose blob needs `Bearer <token>`, challenging with `realm()`; its own `/token` issues that token. */
function registryHandler(realm: () => string, token: string, own: Seen[], ownNeedsCredentials = false) {
  const ownToken = tokenHandler(own, token, ownNeedsCredentials);
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (ownToken(req, res)) return;
    if (req.headers.authorization !== `Bearer ${token}`) {
      return void res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="reg"` }).end();
    }
    serveBlob(req, res, data);
  };
}

async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void | boolean): Promise<TestServer> {
  const s = await listen((req, res) => {
    if (handler(req, res) === false) res.writeHead(404).end();
  });
  cleanup.push(() => s.close());
  return s;
}

async function httpsServer(handler: (req: IncomingMessage, res: ServerResponse) => void | boolean): Promise<{ host: string; origin: string }> {
  const server: Server = createServer({ cert: await pki.read(pki.serverCertFile), key: await pki.read(pki.serverKeyFile) }, (req, res) => {
    if (handler(req, res) === false) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, origin: `https://${host}` };
}

function client(registryHost: string, options: Parameters<typeof testClient>[0] = {}): TestClient {
  const t = testClient({ ...options, retry: { retries: 0 } }, staticCredentials({ [registryHost]: user }));
  cleanup.push(() => t.client.close());
  return t;
}

const read = (t: TestClient, host: string) => t.blob(`${host}/team/app`, digest).readRange(100, 1000);

describe('the realm test: a plain-HTTP registry', () => {
  it('a foreign realm (another loopback port) never sees the Authorization header; the token it issues anonymously works', async () => {
    const foreign: Seen[] = [];
    const own: Seen[] = [];
    const other = await httpServer(tokenHandler(foreign, 'foreign-token'));
    const registry = await httpServer(registryHandler(() => `${other.origin}/token`, 'foreign-token', own));
    const t = client(registry.host);
    expect((await read(t, registry.host)).equals(data.subarray(100, 1100))).toBe(true);
    expect(foreign.length).toBeGreaterThan(0);
    expect(foreign.every((r) => r.authorization === undefined)).toBe(true);
    expect(own).toEqual([]);
    expect(t.logs.filter((l) => l['msg'] === 'registry credentials withheld from the token endpoint; asking for an anonymous token')).toEqual([
      expect.objectContaining({ level: 40, host: registry.host, realm: other.origin, why: expect.stringContaining('plain HTTP') }),
    ]);
  });

  it('a foreign realm that needs the credentials: a clear error saying they were withheld, and still no Authorization there', async () => {
    const foreign: Seen[] = [];
    const other = await httpServer(tokenHandler(foreign, 'foreign-token', true));
    const registry = await httpServer(registryHandler(() => `${other.origin}/token`, 'foreign-token', []));
    const err = await read(client(registry.host), registry.host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect((err as Error).message).toContain(`from ${other.origin}: the token server refused anonymous access (HTTP 401)`);
    expect((err as Error).message).toContain(`the configured credentials were withheld: the realm "${other.origin}/token" is not the registry's own origin`);
    expect(foreign.map((r) => r.authorization)).toEqual([undefined]);
  });

  it('the registry\'s own realm (same scheme, host and port) gets the credentials', async () => {
    const own: Seen[] = [];
    const registry: TestServer = await httpServer(registryHandler(() => `${registry.origin}/token`, 'own-token', own, true));
    const t = client(registry.host);
    expect((await read(t, registry.host)).equals(data.subarray(100, 1100))).toBe(true);
    expect(own.map((r) => r.authorization)).toEqual([BASIC]);
  });

  it('a realm that is not http(s) is refused, named (truncated) in the error', async () => {
    const long = `ftp://127.0.0.1/${'x'.repeat(5000)}`;
    const registry = await httpServer(registryHandler(() => long, 'never', []));
    const err = await read(client(registry.host), registry.host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect((err as Error).message).toMatch(/Bearer realm "ftp:\/\/127\.0\.0\.1\/x+…" is not an http\(s\) URL/);
    expect((err as Error).message.length).toBeLessThan(400);
  });
});

describe('the realm test: an HTTPS registry', () => {
  it('a plain-HTTP realm is refused before any request (no downgrade, with or without credentials)', async () => {
    const foreign: Seen[] = [];
    const other = await httpServer((req, res) => {
      foreign.push({ path: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"x"}');
    });
    const registry = await httpsServer(registryHandler(() => `${other.origin}/token`, 'x', []));
    const t = client(registry.host, { hosts: { [registry.host]: { ca: [pki.caFile] } } });
    const err = await read(t, registry.host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect((err as Error).message).toContain(`registry ${registry.host}: Bearer realm "${other.origin}/token" is plain HTTP while the registry is reached over HTTPS`);
    expect(foreign).toEqual([]);
  });

  it('an HTTPS token service on another origin gets the credentials (as auth.docker.io for registry-1.docker.io)', async () => {
    const foreign: Seen[] = [];
    const tokens = await httpsServer(tokenHandler(foreign, 'tls-token', true));
    const registry = await httpsServer(registryHandler(() => `${tokens.origin}/token`, 'tls-token', []));
    const t = client(registry.host, { hosts: { [registry.host]: { ca: [pki.caFile] }, [tokens.host]: { ca: [pki.caFile] } } });
    expect((await read(t, registry.host)).equals(data.subarray(100, 1100))).toBe(true);
    expect(foreign.map((r) => r.authorization)).toEqual([BASIC]);
  });
});

describe('realmPolicy', () => {
  const use = (realm: string, registry: string) => {
    try {
      const r = realmPolicy(realm, registry, 'reg');
      return r.credentials ? 'credentials' : 'anonymous';
    } catch {
      return 'refused';
    }
  };

  it('decides by scheme and origin', () => {
    expect(use('https://auth.docker.io/token', 'https://registry-1.docker.io')).toBe('credentials');
    expect(use('https://reg.example:443/token', 'https://reg.example')).toBe('credentials'); // default port
    expect(use('http://reg.example:5000/token', 'http://reg.example:5000')).toBe('credentials');
    expect(use('http://REG.example:5000/t', 'http://reg.example:5000')).toBe('credentials'); // host case
    expect(use('http://reg.example:5001/token', 'http://reg.example:5000')).toBe('anonymous'); // another port
    expect(use('https://reg.example:5000/token', 'http://reg.example:5000')).toBe('anonymous'); // another scheme
    expect(use('https://auth.example/token', 'http://reg.example')).toBe('anonymous'); // a forgeable challenge
    expect(use('http://reg.example/token', 'https://reg.example')).toBe('refused'); // downgrade, even to its own host
    expect(use('http://auth.example/token', 'https://reg.example')).toBe('refused');
    expect(use('file:///etc/passwd', 'http://reg.example')).toBe('refused');
    expect(use('javascript:alert(1)', 'https://reg.example')).toBe('refused');
    expect(use('not a url', 'https://reg.example')).toBe('refused');
  });
});
