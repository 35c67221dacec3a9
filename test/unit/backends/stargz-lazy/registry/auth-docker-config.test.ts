/**
 * The registry client with credentials from a docker config file (its default provider),
 * against the token-auth proxy in front of a real docker-registry: Bearer with Basic at the
 * token endpoint, the OAuth2 POST form for identity tokens, registry tokens, plain Basic, and
 * credentials rotated in the file while the client runs.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../../../backends/stargz-lazy/registry/registry-client.js';
import { parseReference } from '../../../../../backends/stargz-lazy/registry/reference.js';
import { CredentialsError, RegistryStatusError } from '../../../../../backends/stargz-lazy/registry/registry-errors.js';
import { startAuthProxy, type AuthProxy, type AuthProxyOptions } from './servers/auth-proxy.js';
import { startDockerRegistry, type DockerRegistry } from './servers/docker-registry.js';
import { testData } from './servers/test-client.js';

const data = testData(64 * 1024, 11);
const alice = { username: 'alice', password: 'first' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
let registry: DockerRegistry;
let digest: string;
let dir: string;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  registry = await startDockerRegistry();
  digest = await registry.pushBlob('team/app', data);
  dir = await mkdtemp(join(tmpdir(), 'snaphost-auth-config-'));
}, 30_000);

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

afterAll(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Writes the config file whole and renames it into place, as `docker login` does. */
async function writeConfig(name: string, json: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(`${file}.new`, JSON.stringify(json));
  await rename(`${file}.new`, file);
  return file;
}

async function setup(opts: Omit<AuthProxyOptions, 'upstream'>, config: (host: string) => unknown) {
  const proxy = await startAuthProxy({ upstream: registry.origin, ...opts });
  cleanup.push(() => proxy.close());
  const file = await writeConfig(`config-${proxy.host.replace(':', '-')}.json`, config(proxy.host));
  const client = new RegistryClient({ dockerConfig: file, retry: { retries: 1, baseDelayMs: 10, maxDelayMs: 20 } }, { log: pino({ level: 'silent' }) });
  cleanup.push(() => client.close());
  const reader = () => client.blob(parseReference(`${proxy.host}/team/app`, 'test'), { digest, urls: [] });
  return { proxy, file, client, reader };
}

const same = (buf: Buffer, offset: number) => buf.equals(data.subarray(offset, offset + buf.length));

describe('credentials from the docker config', () => {
  it('sends the auths entry as Basic to the token endpoint', async () => {
    const { proxy, reader } = await setup({ scheme: 'bearer', credentials: alice }, (host) => ({
      auths: { [`https://${host}`]: { auth: b64('alice:first') } },
    }));
    expect(same(await reader().readRange(100, 1000), 100)).toBe(true);
    expect(proxy.tokenRequests.map((r) => [r.method, r.authorization])).toEqual([['GET', `Basic ${b64('alice:first')}`]]);
  });

  it('applies rotated credentials without a restart', async () => {
    const { proxy, file, reader } = await setup({ scheme: 'bearer', credentials: alice }, (host) => ({
      auths: { [host]: { username: 'alice', password: 'first' } },
    }));
    const r = reader();
    expect(same(await r.readRange(0, 10), 0)).toBe(true);
    // The registry rotates the password and drops its tokens; the file is updated afterwards.
    proxy.setCredentials({ username: 'alice', password: 'second' });
    proxy.revokeAll();
    const err = await r.readRange(0, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect((err as Error).message).toMatch(/the token server refused the configured credentials \(HTTP 401\)/);
    await writeConfig(file.slice(dir.length + 1), { auths: { [proxy.host]: { username: 'alice', password: 'second' } } });
    expect(same(await r.readRange(20, 10), 20)).toBe(true);
    expect(proxy.tokenRequests.at(-1)!.authorization).toBe(`Basic ${b64('alice:second')}`);
  });

  it('trades an identity token for access tokens with the OAuth2 POST form, again once they expire', async () => {
    const { proxy, reader } = await setup({ scheme: 'bearer', refreshToken: 'refresh-123', tokenTtlSeconds: 1 }, (host) => ({
      auths: { [host]: { identitytoken: 'refresh-123' } },
    }));
    const r = reader();
    expect(same(await r.readRange(0, 100), 0)).toBe(true);
    await new Promise((res) => setTimeout(res, 1100));
    expect(same(await r.readRange(500, 100), 500)).toBe(true);
    expect(proxy.tokenRequests).toHaveLength(2);
    for (const t of proxy.tokenRequests) {
      expect(t.method).toBe('POST');
      expect(t.authorization).toBeUndefined();
      expect(Object.fromEntries(t.query)).toEqual({
        grant_type: 'refresh_token',
        refresh_token: 'refresh-123',
        client_id: 'snaphost',
        service: 'snaphost-test-registry',
        scope: 'repository:team/app:pull',
      });
    }
    // The second token was fetched before the request (remembered challenge): one 401 in all.
    expect(proxy.requests.filter((q) => q.status === 401)).toHaveLength(1);
  });

  it('names the refused identity token', async () => {
    const { reader } = await setup({ scheme: 'bearer', refreshToken: 'the-right-one' }, (host) => ({
      auths: { [host]: { identitytoken: 'a-wrong-one' } },
    }));
    await expect(reader().readRange(0, 10)).rejects.toThrow(/the token server refused the configured identity token \(HTTP 401\)/);
  });

  it('sends a registrytoken as the Bearer token itself', async () => {
    const { proxy, reader } = await setup({ scheme: 'bearer' }, (host) => ({ auths: { [host]: { registrytoken: 'not-from-this-server' } } }));
    const err = await reader().readRange(0, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect((err as Error).message).toMatch(/unauthorized \(HTTP 401\)/);
    expect(proxy.requests.map((q) => q.authorization)).toEqual([undefined, 'Bearer not-from-this-server']);
    expect(proxy.tokenRequests).toHaveLength(0);
  });

  it('uses Basic auth from the config when the registry asks for Basic', async () => {
    const { proxy, reader } = await setup({ scheme: 'basic', credentials: alice }, (host) => ({
      auths: { [host]: { auth: b64('alice:first') } },
    }));
    expect(same(await reader().readRange(0, 4096), 0)).toBe(true);
    expect(proxy.requests.filter((q) => q.status === 401)).toHaveLength(1);
  });

  it('is anonymous for hosts the config does not name, and reports a broken config for the host', async () => {
    const anon = await setup({ scheme: 'bearer' }, () => ({ auths: { 'elsewhere.example': { auth: b64('x:y') } } }));
    expect(same(await anon.reader().readRange(0, 10), 0)).toBe(true);
    expect(anon.proxy.tokenRequests[0]!.authorization).toBeUndefined();

    const broken = await setup({ scheme: 'bearer' }, (host) => ({ auths: { [host]: { auth: 'bad!' } } }));
    const err = await broken.reader().readRange(0, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toBe(`${broken.file}: auths["${broken.proxy.host}"].auth: not base64`);
  });
});
