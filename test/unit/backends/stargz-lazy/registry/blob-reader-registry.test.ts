/** BlobReader against a real Debian docker-registry on 127.0.0.1 (through a recording proxy). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../../../../../core/sdk.js';
import { startDockerRegistry, type DockerRegistry } from './servers/docker-registry.js';
import { startAuthProxy, type AuthProxy } from './servers/auth-proxy.js';
import { closedPort } from './servers/listen.js';
import { testClient, testData, type TestClient } from './servers/test-client.js';

const SIZE = 3 * 1024 * 1024 + 123;
const data = testData(SIZE);
let registry: DockerRegistry;
let proxy: AuthProxy;
let digest: string;
let t: TestClient;

beforeAll(async () => {
  registry = await startDockerRegistry();
  digest = await registry.pushBlob('team/layers', data);
  proxy = await startAuthProxy({ upstream: registry.origin, scheme: 'none' });
  t = testClient();
}, 30_000);

afterAll(async () => {
  await t?.client.close();
  await proxy?.close();
  await registry?.stop();
});

describe('BlobReader against docker-registry', () => {
  it('tells the size (HEAD)', async () => {
    const reader = t.blob(`${registry.host}/team/layers`, digest);
    expect(await reader.size()).toBe(SIZE);
  });

  it('reads single ranges anywhere in the blob', async () => {
    const reader = t.blob(`${registry.host}/team/layers:any`, digest);
    for (const [offset, length] of [
      [0, 1],
      [0, 4096],
      [1_000_000, 777_777],
      [SIZE - 10, 10],
      [0, SIZE],
    ] as const) {
      expect((await reader.readRange(offset, length)).equals(data.subarray(offset, offset + length))).toBe(true);
    }
    expect((await reader.readRange(5, 0)).length).toBe(0);
  });

  it('reads many ranges in one multi-range GET (multipart/byteranges)', async () => {
    const reader = t.blob(`${proxy.host}/team/layers`, digest);
    const ranges = [
      { offset: 2_000_000, length: 1000 },
      { offset: 10, length: 20 },
      { offset: 15, length: 100 }, // overlaps the previous one
      { offset: SIZE - 1, length: 1 },
      { offset: 500_000, length: 0 },
      { offset: 1_048_576, length: 65_536 },
    ];
    const before = proxy.requests.length;
    const out = await reader.readRanges(ranges);
    ranges.forEach((r, i) => expect(out[i]!.equals(data.subarray(r.offset, r.offset + r.length))).toBe(true));
    const sent = proxy.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'GET', status: 206, range: `bytes=10-114,1048576-1114111,2000000-2000999,${SIZE - 1}-${SIZE - 1}` });
  });

  it('splits more ranges than maxRangesPerRequest over several requests', async () => {
    const small = testClient({ maxRangesPerRequest: 4 });
    try {
      const reader = small.blob(`${proxy.host}/team/layers`, digest);
      const ranges = Array.from({ length: 10 }, (_, i) => ({ offset: i * 100_000, length: 50 + i }));
      const before = proxy.requests.length;
      const out = await reader.readRanges(ranges);
      ranges.forEach((r, i) => expect(out[i]!.equals(data.subarray(r.offset, r.offset + r.length))).toBe(true));
      expect(proxy.requests.slice(before).map((r) => r.range?.split(',').length).sort()).toEqual([2, 4, 4]);
    } finally {
      await small.client.close();
    }
  });

  it('rejects ranges past the end: known size up front, unknown size from the server', async () => {
    const fresh = t.blob(`${registry.host}/team/layers`, digest);
    await expect(fresh.readRange(SIZE - 5, 10)).rejects.toThrow(InvalidArgumentError);
    await expect(fresh.readRange(SIZE + 10, 1)).rejects.toThrow(InvalidArgumentError);
    const sized = t.blob(`${registry.host}/team/layers`, digest);
    await sized.size();
    const err = await sized.readRange(SIZE, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(`past the end of the blob (${SIZE} bytes)`);
    await expect(sized.readRange(-1, 1)).rejects.toThrow(/invalid range offset=-1/);
    await expect(sized.readRange(1.5, 1)).rejects.toThrow(InvalidArgumentError);
  });

  it('answers NotFoundError for an unknown digest, naming blob and registry', async () => {
    const missing = `sha256:${'0'.repeat(64)}`;
    const err = await t.blob(`${registry.host}/team/layers`, missing).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain(missing);
    expect((err as Error).message).toContain(registry.host);
    await expect(t.blob(`${registry.host}/team/layers`, missing).size()).rejects.toThrow(NotFoundError);
  });

  it('answers UnavailableError naming host and digest when nothing listens', async () => {
    const host = `127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    const err = await t.blob(`${host}/team/layers`, digest).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(host);
    expect((err as Error).message).toContain(digest);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(t.logs.filter((l) => l.msg === 'registry request failed; retrying' && String(l.url).includes(host))).toHaveLength(3);
  });

  it('falls back to the layer URLs when the registry does not have the blob', async () => {
    const missingRepo = t.blob(`${registry.host}/other/repo`, digest, [`${registry.origin}/v2/team/layers/blobs/${digest}`]);
    expect((await missingRepo.readRange(100, 50)).equals(data.subarray(100, 150))).toBe(true);
    expect(missingRepo.locations).toHaveLength(2);
  });
});
