/**
 * A registry that authorizes with Bearer tokens and redirects blob GETs to a separate
 * "storage" server with signed URLs (what S3/GCS-backed registries do).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../../core/sdk.js';
import { serveBlob, startBlobServer, type BlobServer } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { testClient, testData, type TestClient } from './servers/test-client.js';

const data = testData(300_000, 9);
const digest = sha256(data);
const TOKEN = 'Bearer good-token';
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Setup {
  registry: BlobServer;
  storage: BlobServer;
  t: TestClient;
  /** Signature the storage accepts; the registry signs with the current one. */
  sig: { current: number };
}

async function setup(): Promise<Setup> {
  const sig = { current: 1 };
  const storage = await startBlobServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('sig') !== String(sig.current)) return void res.writeHead(403).end('<Error>expired</Error>');
    serveBlob(req, res, data);
  });
  cleanup.push(() => storage.close());
  const registry = await startBlobServer((req, res) => {
    if (req.url?.startsWith('/token')) {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: TOKEN.slice(7) }));
    }
    if (req.headers.authorization !== TOKEN) {
      return void res
        .writeHead(401, { 'www-authenticate': `Bearer realm="http://${registryHost()}/token",service="reg"` })
        .end();
    }
    res.writeHead(307, { location: `${storage.origin}/bucket/${digest}?sig=${sig.current}` }).end();
  });
  const registryHost = () => registry.host;
  cleanup.push(() => registry.close());
  const t = testClient();
  cleanup.push(() => t.client.close());
  return { registry, storage, t, sig };
}

describe('redirects to blob storage', () => {
  it('follows the redirect and never sends Authorization to the storage host', async () => {
    const { registry, storage, t } = await setup();
    const reader = t.blob(`${registry.host}/x`, digest);
    expect(await reader.size()).toBe(data.length);
    expect((await reader.readRange(1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true);
    const out = await reader.readRanges([{ offset: 0, length: 3 }, { offset: 299_990, length: 10 }]);
    expect(out[0]!.equals(data.subarray(0, 3)) && out[1]!.equals(data.subarray(299_990))).toBe(true);
    expect(storage.requests.length).toBeGreaterThanOrEqual(3);
    expect(storage.requests.every((r) => r.authorization === undefined)).toBe(true);
    expect(registry.requests.filter((r) => r.path.startsWith('/v2/')).some((r) => r.authorization === TOKEN)).toBe(true);
  });

  it('reuses the storage URL, and asks the registry again once it expires', async () => {
    const { registry, storage, t, sig } = await setup();
    const reader = t.blob(`${registry.host}/x`, digest);
    await reader.readRange(0, 10);
    const registryCalls = registry.requests.length;
    for (let i = 1; i <= 5; i++) expect((await reader.readRange(i * 100, 10)).equals(data.subarray(i * 100, i * 100 + 10))).toBe(true);
    expect(registry.requests.length).toBe(registryCalls); // straight to storage
    sig.current = 2; // the signed URL expires
    expect((await reader.readRange(7777, 10)).equals(data.subarray(7777, 7787))).toBe(true);
    expect(registry.requests.length).toBe(registryCalls + 1);
    expect(storage.requests.filter((r) => r.path.startsWith('/bucket/')).length).toBe(8);
  });

  it('stops a redirect loop', async () => {
    const loop = await startBlobServer((req, res) => void res.writeHead(302, { location: req.url ?? '/' }).end());
    cleanup.push(() => loop.close());
    const t = testClient();
    cleanup.push(() => t.client.close());
    const err = await t.blob(`${loop.host}/x`, digest).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/more than 5 redirects/);
    expect(loop.requests).toHaveLength(6);
  });
});
