/**
 * Credentials pushed into the FUSE process (pushed-credentials.ts) in the registry client,
 * against a token-auth proxy in front of a real docker-registry: the lookup order, tokens
 * dropped when the credentials they were obtained with are replaced or forgotten, the retry
 * after a 401 when the credentials were replaced meanwhile, and no secret in any log line.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credentialsRequestSchema, type CredentialsRequestInput } from '../../../../../backends/stargz-lazy/protocol/credentials-protocol.js';
import { PushedCredentials } from '../../../../../backends/stargz-lazy/registry/pushed-credentials.js';
import { RegistryClient } from '../../../../../backends/stargz-lazy/registry/registry-client.js';
import { parseReference } from '../../../../../backends/stargz-lazy/registry/reference.js';
import { staticCredentials } from '../../../../../backends/stargz-lazy/registry/credentials.js';
import { startAuthProxy, type AuthProxy } from './servers/auth-proxy.js';
import { startDockerRegistry, type DockerRegistry } from './servers/docker-registry.js';
import { testData } from './servers/test-client.js';

const data = testData(64 * 1024, 3);
const OLD = 'old-password-c0ffee';
const NEW = 'new-password-f00d';
const CONFIG = 'docker-config-password-beef';
const SECRET_RE = new RegExp(`${OLD}|${NEW}|${CONFIG}|${Buffer.from(`alice:${OLD}`).toString('base64')}|${Buffer.from(`alice:${NEW}`).toString('base64')}`);
let registry: DockerRegistry;
let digest: string;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  registry = await startDockerRegistry();
  digest = await registry.pushBlob('team/app', data);
}, 30_000);
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(async () => {
  await registry?.stop();
});

const basic = (password: string) => `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`;
const pw = (password: string) => ({ kind: 'password' as const, username: 'alice', password });

async function setup(scheme: 'bearer' | 'basic', password: string) {
  const proxy: AuthProxy = await startAuthProxy({ upstream: registry.origin, scheme, credentials: { username: 'alice', password } });
  cleanup.push(() => proxy.close());
  const lines: string[] = [];
  const log = pino({ level: 'trace' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
  const pushed = new PushedCredentials(log);
  const client = new RegistryClient(
    { retry: { retries: 0, baseDelayMs: 10, maxDelayMs: 10, totalMs: 5_000 } },
    { log, pushed, credentials: staticCredentials({ [proxy.host]: { username: 'alice', password: CONFIG } }) },
  );
  cleanup.push(() => client.close());
  const apply = (r: CredentialsRequestInput) => pushed.apply(credentialsRequestSchema.parse(r));
  const read = () => client.blob(parseReference(`${proxy.host}/team/app`, 't'), { digest, urls: [] }).readRange(0, 100);
  return { proxy, pushed, apply, read, lines };
}

describe('pushed credentials in the registry client', () => {
  it('uses the repository credentials, then the pull secret, then the docker config', async () => {
    const { proxy, apply, read, lines } = await setup('bearer', OLD);
    await expect(read()).rejects.toThrow(/refused the configured credentials/); // the docker config's are wrong
    expect(proxy.tokenRequests.at(-1)!.authorization).toBe(basic(CONFIG));
    apply({ replace: { source: 'pull-secrets', entries: [{ host: proxy.host, auth: pw(OLD) }] } });
    expect((await read()).equals(data.subarray(0, 100))).toBe(true);
    expect(proxy.tokenRequests.at(-1)!.authorization).toBe(basic(OLD));
    proxy.setCredentials({ username: 'alice', password: NEW });
    apply({ set: [{ host: proxy.host, repository: 'team/app', auth: pw(NEW) }] });
    proxy.revokeAll();
    expect((await read()).equals(data.subarray(0, 100))).toBe(true);
    expect(proxy.tokenRequests.at(-1)!.authorization).toBe(basic(NEW));
    expect(lines.join('')).not.toMatch(SECRET_RE);
  });

  it('drops a token obtained with credentials that were replaced: the next request gets a new one with the new credentials', async () => {
    const { proxy, apply, read, lines } = await setup('bearer', OLD);
    apply({ set: [{ host: proxy.host, repository: 'team/app', auth: pw(OLD) }] });
    await read();
    await read();
    expect(proxy.tokenRequests).toHaveLength(1); // cached
    proxy.setCredentials({ username: 'alice', password: NEW });
    apply({ set: [{ host: proxy.host, repository: 'team/app', auth: pw(NEW) }] });
    await read();
    expect(proxy.tokenRequests).toHaveLength(2);
    expect(proxy.tokenRequests[1]!.authorization).toBe(basic(NEW));
    expect(lines.join('')).not.toMatch(SECRET_RE);
  });

  it('never uses forgotten credentials again, not even their cached token', async () => {
    const { proxy, apply, read } = await setup('bearer', OLD);
    apply({ set: [{ host: proxy.host, repository: 'team/app', auth: pw(OLD) }] });
    await read();
    const before = proxy.requests.length;
    apply({ forget: [{ host: proxy.host, repository: 'team/app' }] });
    await expect(read()).rejects.toThrow(/refused the configured credentials/); // falls back to the docker config's
    expect(proxy.tokenRequests.at(-1)!.authorization).toBe(basic(CONFIG));
    const cachedToken = proxy.requests[before - 1]!.authorization;
    expect(proxy.requests.slice(before).every((r) => r.authorization !== cachedToken)).toBe(true);
  });

  it('retries once more after a 401 when the credentials were replaced while the first retry was made', async () => {
    const { proxy, pushed, apply, read } = await setup('basic', NEW);
    apply({ set: [{ host: proxy.host, repository: 'team/app', auth: pw(OLD) }] });
    // The new credentials arrive right after the old ones were looked up (a push racing a read).
    const lookup = pushed.lookup.bind(pushed);
    let raced = false;
    pushed.lookup = (host, repository) => {
      const found = lookup(host, repository);
      if (!raced) {
        raced = true;
        queueMicrotask(() => apply({ set: [{ host: proxy.host, repository: 'team/app', auth: pw(NEW) }] }));
      }
      return found;
    };
    expect((await read()).equals(data.subarray(0, 100))).toBe(true);
    const blobRequests = proxy.requests.filter((r) => r.path.includes('/blobs/'));
    expect(blobRequests.map((r) => r.status)).toEqual([401, 401, 206]);
    expect(blobRequests.map((r) => r.authorization)).toEqual([undefined, basic(OLD), basic(NEW)]);
  });

  it('gives up after the second 401 when nothing was replaced', async () => {
    const { proxy, apply, read } = await setup('basic', NEW);
    apply({ set: [{ host: proxy.host, repository: 'team/app', auth: pw(OLD) }] });
    await expect(read()).rejects.toThrow();
    expect(proxy.requests.filter((r) => r.path.includes('/blobs/')).length).toBeLessThanOrEqual(2);
  });
});
