/**
 * RemoteLayer over the real upstream-written fixture blobs, served by Debian's docker-registry
 * on 127.0.0.1 behind a recording proxy: every file reads back with the writer's hashes,
 * whole and at random ranges, and a second layer on the same cache sends no chunk request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_TAIL_BYTES, RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { loadFixture, sha256, type Fixture } from '../estargz/make-blob.js';
import { startAuthProxy, type AuthProxy } from '../registry/servers/auth-proxy.js';
import { startDockerRegistry, type DockerRegistry } from '../registry/servers/docker-registry.js';
import { testClient, type TestClient } from '../registry/servers/test-client.js';
import { removeTemps, tempCache } from './layer-env.js';

let registry: DockerRegistry;
let proxy: AuthProxy;
let t: TestClient;
const fixtures: Record<'full' | 'plain', Fixture & { digest: string }> = {} as never;

beforeAll(async () => {
  registry = await startDockerRegistry();
  proxy = await startAuthProxy({ upstream: registry.origin, scheme: 'none' });
  t = testClient();
  for (const name of ['full', 'plain'] as const) {
    const f = loadFixture(name);
    fixtures[name] = { ...f, digest: await registry.pushBlob('fixtures/layer', f.blob) };
  }
}, 30_000);

afterAll(async () => {
  await t?.client.close();
  await proxy?.close();
  await registry?.stop();
  await removeTemps();
});

/** Deterministic pseudo-random numbers in [0, n). */
function rng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
}

describe.each(['full', 'plain'] as const)('RemoteLayer over docker-registry: %s fixture', (name) => {
  it('reads every regular file (and hard link) back with the hashes the writer was given', async () => {
    const f = fixtures[name];
    const c = await tempCache(0);
    const reader = t.blob(`${proxy.host}/fixtures/layer`, f.digest);
    const before = proxy.requests.length;
    const layer = await RemoteLayer.open({ blob: reader, expectedTocDigest: f.expected.tocDigest, cache: c.cache, log: c.log });
    // One suffix-range GET: the size (Content-Range), the footer and the TOC (a small layer's fits).
    expect(proxy.requests.slice(before).map((r) => [r.method, r.range])).toEqual([['GET', `bytes=-${OPEN_TAIL_BYTES}`]]);
    expect(layer.tocDigest).toBe(f.expected.tocDigest);

    const contents = new Map<string, Buffer>();
    const regular = f.expected.entries.filter((e) => e.type === 'reg' && e.sha256 && !e.name.split('/').pop()!.startsWith('.'));
    expect(regular.length).toBeGreaterThan(2);
    for (const e of regular) {
      const node = layer.index.lookup(e.name)!;
      const data = await layer.read(node, 0, e.size + 10);
      expect(data.length, e.name).toBe(e.size);
      expect(sha256(data), e.name).toBe(e.sha256);
      contents.set(e.name, data);
    }
    for (const e of f.expected.entries.filter((x) => x.type === 'hardlink')) {
      const data = await layer.read(layer.index.lookup(e.name)!, 0, 1 << 20);
      expect(data.equals(contents.get(e.linkName!)!), e.name).toBe(true);
    }

    // Random ranges, from a fresh layer on a fresh cache (so chunk fetches happen again).
    const c2 = await tempCache(0);
    const layer2 = await RemoteLayer.open({ blob: t.blob(`${proxy.host}/fixtures/layer`, f.digest), cache: c2.cache, log: c2.log });
    const rand = rng(name.length);
    for (let i = 0; i < 60; i++) {
      const e = regular[rand(regular.length)]!;
      const whole = contents.get(e.name)!;
      const offset = rand(e.size + 2);
      const length = rand(Math.max(1, e.size)) + 1;
      const got = await layer2.read(layer2.index.lookup(e.name)!, offset, length);
      expect(got.equals(whole.subarray(offset, offset + length)), `${e.name} @${offset}+${length}`).toBe(true);
    }

    // A second layer on the first cache (a restart: disk only): no chunk request at all.
    await c.cache.flush();
    const again = await c.reopen(0);
    const before2 = proxy.requests.length;
    const layer3 = await RemoteLayer.open({ blob: t.blob(`${proxy.host}/fixtures/layer`, f.digest), cache: again, log: c.log });
    for (const e of regular) expect(sha256(await layer3.read(layer3.index.lookup(e.name)!, 0, e.size))).toBe(e.sha256);
    expect(proxy.requests.slice(before2)).toHaveLength(1);
    expect(again.stats()).toMatchObject({ misses: 0, corrupt: 0 });
  });
});

describe('prefetch of the full fixture over docker-registry', () => {
  it('fetches exactly the prioritized files in one request, then they read without any request', async () => {
    const f = fixtures.full;
    const c = await tempCache(0);
    const layer = await RemoteLayer.open({ blob: t.blob(`${proxy.host}/fixtures/layer`, f.digest), cache: c.cache, log: c.log });
    const before = proxy.requests.length;
    const result = await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 10_000 });
    expect(result).toMatchObject({ files: f.expected.prioritized!.length, complete: true });
    const sent = proxy.requests.slice(before);
    expect(sent).toHaveLength(1);
    const last = Number(/-(\d+)$/.exec(sent[0]!.range!)![1]);
    expect(last).toBe(layer.index.prefetch.endOffset - 1);
    const after = proxy.requests.length;
    for (const p of f.expected.prioritized!) {
      const e = f.expected.entries.find((x) => x.name === p)!;
      expect(sha256(await layer.read(layer.index.lookup(p)!, 0, e.size))).toBe(e.sha256);
    }
    expect(proxy.requests.length).toBe(after);
    await layer.read(layer.index.lookup('data/big.bin')!, 0, 1);
    expect(proxy.requests.length).toBe(after + 1);
  });

  it('does nothing for a layer with .no.prefetch.landmark', async () => {
    const f = fixtures.plain;
    const c = await tempCache(0);
    const layer = await RemoteLayer.open({ blob: t.blob(`${proxy.host}/fixtures/layer`, f.digest), cache: c.cache, log: c.log });
    expect(layer.index.prefetch.landmark).toBe('no-prefetch');
    const before = proxy.requests.length;
    expect(await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 1000 })).toEqual({ files: 0, bytes: 0, complete: true });
    expect(proxy.requests.length).toBe(before);
  });
});
