/**
 * RemoteLayer's cache accounting: `progress` from the cache index, `onRegistryFetch` for
 * foreground reads only, and the one warning when the cache cap takes back part of a layer
 * that was fully cached (it needs its registry again).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { sha256 } from '../estargz/make-blob.js';
import { testData } from '../registry/servers/test-client.js';
import { clientFor, prioritizedBlob, removeTemps, startSwitchableServer, tempCache } from './layer-env.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await removeTemps();
});

const b = prioritizedBlob();
/** Uncompressed bytes of every file (the landmark is not a file of the layer). */
const TOTAL = Object.values(b.files).reduce((n, f) => n + f.length, 0);

async function setup(diskBytes = 0) {
  const server = await startSwitchableServer(b.blob);
  cleanup.push(() => server.close());
  const t = clientFor(server, sha256(b.blob));
  cleanup.push(() => t.client.close());
  const c = await tempCache();
  const cache = await ChunkCache.open(c.dir, { memoryBytes: 0, diskBytes, log: c.log });
  let registryFetches = 0;
  const layer = await RemoteLayer.open({ blob: t.reader(), cache, log: c.log, onRegistryFetch: () => registryFetches++, regionBytes: 0 });
  return { server, c, cache, layer, registryFetches: () => registryFetches };
}

describe('RemoteLayer.progress and onRegistryFetch', () => {
  it('counts the uncompressed bytes of the chunks the cache holds; reads that go to the registry are reported', async () => {
    const { layer, cache, registryFetches } = await setup();
    expect(layer.progress()).toEqual({ fetchedBytes: 0, totalBytes: TOTAL });
    await layer.read(layer.index.lookup('data/other')!, 0, 3000);
    await cache.flush();
    expect(layer.progress()).toEqual({ fetchedBytes: 3000, totalBytes: TOTAL });
    expect(registryFetches()).toBe(1);
    await layer.read(layer.index.lookup('data/other')!, 10, 100); // cached: no registry
    expect(registryFetches()).toBe(1);
    await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 5000 }); // not a foreground read
    expect(registryFetches()).toBe(1);
    await cache.flush();
    expect(layer.progress().fetchedBytes).toBe(3000 + 10_000 + b.files['app/conf'].length);
    expect(layer.missingChunks().map((w) => w.path)).toEqual([...Array(5).fill('data/big'), 'data/small']);
    await layer.fetchIntoCache(layer.missingChunks());
    await cache.flush();
    expect(layer.progress()).toEqual({ fetchedBytes: TOTAL, totalBytes: TOTAL });
    expect(layer.missingChunks()).toEqual([]);
    expect(registryFetches()).toBe(1);
  });

  it('a fully cached layer whose chunks the cap evicts warns once, naming the layer, and still reads', async () => {
    const { layer, cache, c, server } = await setup(TOTAL + 2000);
    await layer.fetchIntoCache(layer.missingChunks());
    await cache.flush();
    expect(layer.progress().fetchedBytes).toBe(TOTAL);
    const warned = () => c.lines.filter((l) => l.msg.includes('it needs the registry again'));
    expect(warned()).toHaveLength(0);
    // Other data pushes the least recently used chunks of the layer out.
    for (let i = 0; i < 3; i++) {
      const other = testData(4000, 500 + i);
      await cache.put(sha256(other), other);
    }
    expect(cache.stats().evictions).toBeGreaterThan(0);
    expect(layer.progress().fetchedBytes).toBeLessThan(TOTAL);
    expect(warned()).toHaveLength(1);
    expect(warned()[0]).toMatchObject({ level: 40, layer: sha256(b.blob) });
    const gets = server.gets();
    for (const [name, data] of Object.entries(b.files)) {
      expect((await layer.read(layer.index.lookup(name)!, 0, data.length)).equals(data), name).toBe(true);
    }
    expect(server.gets()).toBeGreaterThan(gets);
    layer.progress();
    expect(warned()).toHaveLength(1);
  });
});
