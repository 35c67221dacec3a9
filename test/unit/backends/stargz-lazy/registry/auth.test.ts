/** Registry authorization against a token-auth proxy in front of a real docker-registry. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { staticCredentials } from '../../../../../backends/stargz-lazy/registry/credentials.js';
import { RegistryStatusError } from '../../../../../backends/stargz-lazy/registry/registry-errors.js';
import { startDockerRegistry, type DockerRegistry } from './servers/docker-registry.js';
import { startAuthProxy, type AuthProxy, type AuthProxyOptions } from './servers/auth-proxy.js';
import { testClient, testData, type TestClient } from './servers/test-client.js';

const data = testData(256 * 1024, 7);
const user = { username: 'alice', password: 's3cret:with colon' };
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

async function setup(opts: Omit<AuthProxyOptions, 'upstream'>, credentials?: typeof user): Promise<{ proxy: AuthProxy; t: TestClient }> {
  const proxy = await startAuthProxy({ upstream: registry.origin, ...opts });
  cleanup.push(() => proxy.close());
  const t = testClient({}, credentials ? staticCredentials({ [proxy.host]: credentials }) : undefined);
  cleanup.push(() => t.client.close());
  return { proxy, t };
}

const same = (buf: Buffer, offset: number) => buf.equals(data.subarray(offset, offset + buf.length));

describe('Bearer token auth', () => {
  it('fetches an anonymous token on 401, then reuses it', async () => {
    const { proxy, t } = await setup({ scheme: 'bearer' });
    const reader = t.blob(`${proxy.host}/team/app`, digest);
    expect(same(await reader.readRange(0, 1000), 0)).toBe(true);
    expect(await reader.size()).toBe(data.length);
    const out = await reader.readRanges([{ offset: 5, length: 5 }, { offset: 100_000, length: 10 }]);
    expect(same(out[0]!, 5) && same(out[1]!, 100_000)).toBe(true);
    expect(proxy.tokenRequests).toHaveLength(1);
    expect(proxy.tokenRequests[0]!.query.get('service')).toBe('snaphost-test-registry');
    expect(proxy.tokenRequests[0]!.query.getAll('scope')).toEqual(['repository:team/app:pull']);
    expect(proxy.tokenRequests[0]!.authorization).toBeUndefined();
    expect(proxy.requests.filter((r) => r.status === 401)).toHaveLength(1);
  });

  it('shares one token fetch between concurrent requests', async () => {
    const { proxy, t } = await setup({ scheme: 'bearer' });
    const reader = t.blob(`${proxy.host}/team/app`, digest);
    const reads = await Promise.all(Array.from({ length: 12 }, (_, i) => reader.readRange(i * 1000, 100)));
    reads.forEach((buf, i) => expect(same(buf, i * 1000)).toBe(true));
    expect(proxy.tokenRequests).toHaveLength(1);
  });

  it('renews expiring tokens transparently during a long read loop', async () => {
    const { proxy, t } = await setup({ scheme: 'bearer', tokenTtlSeconds: 1 });
    const reader = t.blob(`${proxy.host}/team/app`, digest);
    const until = Date.now() + 3200;
    let reads = 0;
    while (Date.now() < until) {
      const offset = (reads * 4099) % (data.length - 512);
      expect(same(await reader.readRange(offset, 512), offset)).toBe(true);
      reads++;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(reads).toBeGreaterThan(50);
    expect(proxy.tokenRequests.length).toBeGreaterThanOrEqual(3);
    expect(proxy.tokenRequests.length).toBeLessThan(10);
  });

  it('re-authenticates when the server drops its tokens mid-stream', async () => {
    const { proxy, t } = await setup({ scheme: 'bearer' });
    const reader = t.blob(`${proxy.host}/team/app`, digest);
    expect(same(await reader.readRange(0, 10), 0)).toBe(true);
    proxy.revokeAll();
    expect(same(await reader.readRange(50_000, 10), 50_000)).toBe(true);
    expect(proxy.tokenRequests).toHaveLength(2);
  });

  it('recovers when a token without expires_in dies before the default 60 s', async () => {
    const { proxy, t } = await setup({ scheme: 'bearer', tokenTtlSeconds: 1, sendExpiresIn: false });
    const reader = t.blob(`${proxy.host}/team/app`, digest);
    await reader.readRange(0, 10);
    await new Promise((r) => setTimeout(r, 1100));
    expect(same(await reader.readRange(20, 10), 20)).toBe(true);
    expect(proxy.tokenRequests).toHaveLength(2);
  });

  it('sends configured credentials to the token endpoint', async () => {
    const { proxy, t } = await setup({ scheme: 'bearer', credentials: user }, user);
    expect(same(await t.blob(`${proxy.host}/team/app`, digest).readRange(7, 7), 7)).toBe(true);
    expect(proxy.tokenRequests[0]!.authorization).toBe(`Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`);
  });

  it('fails clearly when the token server refuses', async () => {
    const anon = await setup({ scheme: 'bearer', credentials: user });
    const err = await anon.t.blob(`${anon.proxy.host}/team/app`, digest).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect((err as RegistryStatusError).status).toBe(401);
    expect((err as Error).message).toMatch(/token server refused anonymous access \(HTTP 401\)/);

    const wrong = await setup({ scheme: 'bearer', credentials: user }, { ...user, password: 'nope' });
    await expect(wrong.t.blob(`${wrong.proxy.host}/team/app`, digest).readRange(0, 1)).rejects.toThrow(
      /token server refused the configured credentials/,
    );
  });
});

describe('Basic auth', () => {
  it('answers the Basic challenge with configured credentials', async () => {
    const { proxy, t } = await setup({ scheme: 'basic', credentials: user }, user);
    const reader = t.blob(`${proxy.host}/team/app`, digest);
    expect(same(await reader.readRange(1, 100), 1)).toBe(true);
    expect(same(await reader.readRange(200, 100), 200)).toBe(true);
    expect(proxy.requests.filter((r) => r.status === 401)).toHaveLength(1);
  });

  it('fails clearly without or with wrong credentials', async () => {
    const none = await setup({ scheme: 'basic', credentials: user });
    await expect(none.t.blob(`${none.proxy.host}/team/app`, digest).readRange(0, 1)).rejects.toThrow(
      /requires basic authentication and no credentials are configured/,
    );
    const wrong = await setup({ scheme: 'basic', credentials: user }, { ...user, password: 'x' });
    const err = await wrong.t.blob(`${wrong.proxy.host}/team/app`, digest).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect((err as Error).message).toMatch(/unauthorized \(HTTP 401\)/);
  });
});
