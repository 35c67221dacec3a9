/**
 * BackgroundFetcher against a node:http range server on 127.0.0.1: whole layers into the cache
 * in few large requests, nothing the cache holds asked again, quiet while foreground reads
 * happen, bad data never cached (tampered, then clean: retried and complete), the disk cap
 * respected, removal aborting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { BackgroundFetcher } from '../../../../../backends/stargz-lazy/layer/background-fetcher.js';
import { RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { sha256 } from '../estargz/make-blob.js';
import { clientFor, flipped, prioritizedBlob, removeTemps, startSwitchableServer, tempCache } from './layer-env.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await removeTemps();
});

const b = prioritizedBlob();
const TOTAL = Object.values(b.files).reduce((n, f) => n + f.length, 0);

async function setup(o: { diskBytes?: number; fetcher?: Partial<ConstructorParameters<typeof BackgroundFetcher>[0]> } = {}) {
  const server = await startSwitchableServer(b.blob);
  cleanup.push(() => server.close());
  const t = clientFor(server, sha256(b.blob));
  cleanup.push(() => t.client.close());
  const c = await tempCache();
  const cache = await ChunkCache.open(c.dir, { memoryBytes: 0, diskBytes: o.diskBytes ?? 0, log: c.log });
  const fetcher = new BackgroundFetcher({ concurrency: 1, quietMs: 0, startDelayMs: 0, log: c.log, retryBaseMs: 50, retryMaxMs: 200, ...o.fetcher });
  cleanup.push(async () => fetcher.close());
  const open = () => RemoteLayer.open({ blob: t.reader(), cache, log: c.log, onRegistryFetch: () => fetcher.noteForeground(), regionBytes: 0 });
  const layer = await open();
  return { server, c, cache, fetcher, layer, open };
}

async function until(what: string, ok: () => boolean, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('BackgroundFetcher', () => {
  it('fetches a whole layer in batch-sized (multi-)range requests; then it reads with no request', async () => {
    const { server, c, cache, fetcher, layer } = await setup({ fetcher: { batchBytes: 12_000 } });
    const members = new Map(layer.missingChunks().map((w) => [w.chunk.offset, w.chunk.compressedSize]));
    const compressed = [...members.values()].reduce((n, s) => n + s, 0);
    expect(members.size).toBe(11);
    const gets = server.gets();
    fetcher.add('m1', layer);
    await until('complete', () => fetcher.progress('m1')?.state === 'complete');
    expect(fetcher.progress('m1')).toEqual({ state: 'complete', fetchedBytes: TOTAL, totalBytes: TOTAL });
    const requests = server.requests.filter((r) => r.method === 'GET').slice(gets);
    // Batches of at most ~12 000 compressed bytes (a member is never split): a few requests, not one per member.
    expect(requests.length).toBeGreaterThanOrEqual(Math.ceil(compressed / 12_000));
    expect(requests.length).toBeLessThanOrEqual(Math.ceil(compressed / 12_000) + 2);
    for (const r of requests) expect(r.ranges!.reduce((n, [f, l]) => n + l - f + 1, 0)).toBeLessThanOrEqual(12_000);
    expect(requests.reduce((n, r) => n + r.ranges!.reduce((m, [f, l]) => m + l - f + 1, 0), 0)).toBe(compressed);
    await cache.flush();
    const after = server.gets();
    for (const [name, data] of Object.entries(b.files)) {
      expect((await layer.read(layer.index.lookup(name)!, 0, data.length)).equals(data), name).toBe(true);
    }
    expect(server.gets()).toBe(after);
    const info = c.lines.filter((l) => l.component === 'background-fetch').map((l) => l.msg);
    expect(info[0]).toBe('background fetch started');
    expect(info.at(-1)).toBe('background fetch complete: the layer no longer needs its registry');
    expect(c.lines.some((l) => l.msg === 'background fetch progress' && typeof l.percent === 'number')).toBe(true);
  });

  it('does not ask for what the cache already holds', async () => {
    const { server, fetcher, layer, cache } = await setup();
    const big = layer.index.lookup('data/big')!;
    await layer.read(big, 0, big.size);
    await cache.flush();
    const gets = server.gets();
    fetcher.add('m1', layer);
    await until('complete', () => fetcher.progress('m1')?.state === 'complete');
    const asked = server.requests.filter((r) => r.method === 'GET').slice(gets).flatMap((r) => r.ranges!);
    for (const chunk of big.chunks) {
      expect(asked.some(([f, l]) => f <= chunk.offset && chunk.offset <= l)).toBe(false);
    }
  });

  it('waits the start delay, and pauses while foreground reads go to the registry', async () => {
    const { server, fetcher, layer, open } = await setup({ fetcher: { quietMs: 600, startDelayMs: 200 } });
    const reader = await open(); // another layer object on the same cache: a container's reads
    const gets = server.gets();
    fetcher.add('m1', layer);
    expect(fetcher.progress('m1')!.state).toBe('waiting');
    // A foreground read needs the registry (before the start delay is over).
    await reader.read(reader.index.lookup('data/small')!, 0, 100);
    const readAt = Date.now();
    expect(server.gets()).toBe(gets + 1);
    await until('paused', () => fetcher.progress('m1')!.state === 'paused');
    expect(server.gets()).toBe(gets + 1); // the start delay and the quiet time: no background request
    await until('complete', () => fetcher.progress('m1')?.state === 'complete');
    expect(Date.now() - readAt).toBeGreaterThanOrEqual(550);
    expect(server.gets()).toBeGreaterThan(gets + 1);
  });

  it('tampered data: the fetch fails, nothing bad is cached; once the registry serves clean data it completes', async () => {
    const { server, c, cache, fetcher, layer } = await setup();
    const other = layer.index.lookup('data/other')!.chunks[0]!;
    server.content = flipped(b.blob, other.offset + Math.floor(other.compressedSize / 2));
    fetcher.add('m1', layer);
    await until('failed', () => fetcher.progress('m1')?.state === 'failed');
    await cache.flush();
    expect(cache.has(other.chunkDigest)).toBe(false);
    expect(c.lines.some((l) => l.msg === 'background fetch failed; retrying later' && l.level === 40 && typeof l.retryInMs === 'number')).toBe(true);
    // Still bad on the retry: still not cached, still failing.
    const failures = () => c.lines.filter((l) => l.msg === 'background fetch failed; retrying later').length;
    await until('a retry', () => failures() >= 2);
    expect(cache.has(other.chunkDigest)).toBe(false);
    server.content = b.blob;
    await until('complete', () => fetcher.progress('m1')?.state === 'complete');
    expect((await layer.read(layer.index.lookup('data/other')!, 0, 3000)).equals(b.files['data/other'])).toBe(true);
  });

  it('a layer larger than the disk cap is not fetched: said once, stopped for good', async () => {
    const { server, c, fetcher, layer } = await setup({ diskBytes: TOTAL - 1 });
    const gets = server.gets();
    fetcher.add('m1', layer);
    await until('failed', () => fetcher.progress('m1')?.state === 'failed');
    await new Promise((r) => setTimeout(r, 300)); // no retry follows
    expect(server.gets()).toBe(gets);
    const said = c.lines.filter((l) => l.msg.startsWith('layer is larger than the chunk cache cap'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 40, layer: sha256(b.blob), totalBytes: TOTAL, diskLimitBytes: TOTAL - 1 });
  });

  it('runs at most `concurrency` layers; remove aborts the one in flight', async () => {
    const { server, c, fetcher, layer, open } = await setup({ fetcher: { batchBytes: 2000 } });
    server.delayMs = 200;
    const second = await open();
    fetcher.add('m1', layer);
    fetcher.add('m2', second);
    await until('m1 running', () => fetcher.progress('m1')!.state === 'running');
    expect(fetcher.progress('m2')!.state).toBe('waiting');
    fetcher.remove('m1');
    expect(fetcher.progress('m1')).toBeUndefined();
    await until('m2 running', () => fetcher.progress('m2')!.state === 'running');
    fetcher.remove('m2');
    await new Promise((r) => setTimeout(r, 300));
    expect(c.lines.some((l) => l.msg.startsWith('background fetch complete'))).toBe(false);
    expect(c.lines.some((l) => l.msg === 'background fetch failed; retrying later')).toBe(false);
  });

  it('refuses bad options', () => {
    const { log } = { log: undefined as never };
    for (const bad of [{ concurrency: 0 }, { quietMs: -1 }, { startDelayMs: 1.5 }, { batchBytes: 0 }]) {
      expect(() => new BackgroundFetcher({ concurrency: 1, quietMs: 0, startDelayMs: 0, log, ...bad })).toThrow(InvalidArgumentError);
    }
  });
});
