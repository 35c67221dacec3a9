/**
 * Where files become complete (cache/complete-files.ts) as RemoteLayer serves them: a read that
 * reaches a file's end, the end of the prefetch, and the layer seen whole by `progress` (the
 * background fetch) queue them; `completeFile` answers at once and wants a file not complete.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { sha256 } from '../estargz/make-blob.js';
import { clientFor, prioritizedBlob, removeTemps, startSwitchableServer, tempCache } from './layer-env.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await removeTemps();
});

async function setup(memoryBytes = 0) {
  const b = prioritizedBlob();
  const server = await startSwitchableServer(b.blob);
  cleanup.push(() => server.close());
  const t = clientFor(server, sha256(b.blob));
  cleanup.push(() => t.client.close());
  const c = await tempCache(memoryBytes);
  c.cache.files.enable();
  const layer = await RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log, regionBytes: 0 });
  return { b, c, layer };
}

describe('RemoteLayer and complete files', () => {
  it('a read that reaches the end of a multi-chunk file makes it complete; a read of its start does not', async () => {
    const { b, c, layer } = await setup();
    const big = layer.index.lookup('data/big')!;
    await layer.read(big, 0, 4096);
    await c.cache.flush();
    await c.cache.files.idle();
    expect(layer.completeFile(big)).toBeUndefined();
    await layer.read(big, 0, big.size);
    await c.cache.flush();
    await c.cache.files.idle();
    const file = layer.completeFile(big)!;
    expect((await readFile(file.path)).equals(b.files['data/big'])).toBe(true);
  });

  it('a read that reaches the end from the memory cache (readCached: a sequential reader\'s read-ahead chunk) makes it complete too', async () => {
    const { b, c, layer } = await setup(8 << 20);
    const big = layer.index.lookup('data/big')!;
    const last = big.chunks[big.chunks.length - 1]!;
    await layer.read(big, 0, last.chunkOffset); // every chunk but the last, fetched; not the end
    await layer.read(big, last.chunkOffset, 1); // the last chunk fetched into memory; not the end
    await c.cache.flush();
    const tail = Buffer.alloc(big.size - last.chunkOffset);
    expect(layer.readCached(big, last.chunkOffset, tail.length, tail)).toBe(tail.length);
    await c.cache.files.idle();
    expect((await readFile(layer.completeFile(big)!.path)).equals(b.files['data/big'])).toBe(true);
  });

  it('completeFile of a file whose chunks are all cached but not assembled answers undefined at once and assembles it for the next open', async () => {
    const { b, c, layer } = await setup();
    const bin = layer.index.lookup('app/bin')!;
    await layer.fetchIntoCache(bin.chunks.map((chunk) => ({ chunk, path: bin.path })));
    await c.cache.flush();
    expect(layer.completeFile(bin)).toBeUndefined();
    await c.cache.files.idle();
    expect((await readFile(layer.completeFile(bin)!.path)).equals(b.files['app/bin'])).toBe(true);
  });

  it('the end of the prefetch and the layer seen whole (background fetch) sweep the layer', async () => {
    const { b, c, layer } = await setup();
    await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 10_000 });
    await c.cache.flush(); // chunk files on disk (a one-chunk file is complete once its file is)
    await c.cache.files.idle();
    const bin = layer.index.lookup('app/bin')!;
    const big = layer.index.lookup('data/big')!;
    expect(c.cache.files.completeFile(bin)).toBeDefined(); // prefetched, then swept
    expect(c.cache.files.completeFile(big)).toBeUndefined();
    await layer.fetchIntoCache(layer.missingChunks());
    expect(layer.progress().fetchedBytes).toBe(layer.progress().totalBytes);
    await c.cache.flush();
    await c.cache.files.idle();
    expect((await readFile(c.cache.files.completeFile(big)!.path)).equals(b.files['data/big'])).toBe(true);
    // A one-chunk file needs no assembly: its chunk file is the complete file once verified.
    const other = layer.index.lookup('data/other')!;
    expect(c.cache.files.completeFile(other)!.path).toContain(sha256(b.files['data/other']).slice(7));
  });
});
