/** The chunk cache's disk cap: LRU eviction on a real temp directory, trimming at open, pinned chunks, logs. */
import { readdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { DiskCap } from '../../../../../backends/stargz-lazy/cache/disk-cap.js';
import { DiskStore } from '../../../../../backends/stargz-lazy/cache/disk-store.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { sha256 } from '../estargz/make-blob.js';
import { testData } from '../registry/servers/test-client.js';
import { captureLog, removeTemps, tempCache } from '../layer/layer-env.js';

afterEach(removeTemps);

const CHUNK = 10_000;
const chunks = Array.from({ length: 10 }, (_, i) => testData(CHUNK, 300 + i));
const digests = chunks.map(sha256);
const fileOf = (dir: string, d: string) => join(dir, d.slice(7, 9), d.slice(7));

/** Bytes of the chunk files under `dir` (what `du` would count, minus directories). */
async function filesBytes(dir: string): Promise<number> {
  let n = 0;
  for (const sub of await readdir(dir)) {
    if (sub === 'tmp') continue;
    for (const f of await readdir(join(dir, sub))) n += (await stat(join(dir, sub, f))).size;
  }
  return n;
}

async function capped(diskBytes: number, memoryBytes = 0) {
  const t = await tempCache();
  const cache = await ChunkCache.open(t.dir, { memoryBytes, diskBytes, log: t.log });
  return { ...t, cache };
}

describe('ChunkCache disk cap', () => {
  it('keeps the files under the cap, evicting least recently used first; a hit counts as a use', async () => {
    const t = await capped(4 * CHUNK);
    for (let i = 0; i < 4; i++) await t.cache.put(digests[i]!, chunks[i]!);
    expect(t.cache.stats()).toMatchObject({ diskBytes: 4 * CHUNK, diskLimitBytes: 4 * CHUNK, evictions: 0 });
    // Chunk 0 is used again: chunk 1 is now the least recently used.
    expect((await t.cache.get(digests[0]!))?.equals(chunks[0]!)).toBe(true);
    await t.cache.put(digests[4]!, chunks[4]!); // 5 chunks > cap: down to 95 % of it, i.e. 3 chunks
    expect(t.cache.stats()).toMatchObject({ diskBytes: 3 * CHUNK, evictions: 2 });
    expect(await filesBytes(t.dir)).toBe(3 * CHUNK);
    expect(digests.slice(0, 5).map((d) => t.cache.has(d))).toEqual([true, false, false, true, true]);
    await expect(stat(fileOf(t.dir, digests[1]!))).rejects.toMatchObject({ code: 'ENOENT' });
    // Everything still reads: evicted chunks are misses (fetched again by a layer), never wrong data.
    expect(await t.cache.get(digests[1]!)).toBeUndefined();
    expect((await t.cache.get(digests[3]!))?.equals(chunks[3]!)).toBe(true);
    // Evictions at debug, one summary at info.
    expect(t.lines.filter((l) => l.msg === 'chunk cache: evicted' && l.level === 20)).toHaveLength(2);
    const summary = t.lines.find((l) => l.msg.startsWith('chunk cache: evicted least recently used'));
    expect(summary).toMatchObject({ level: 30, evicted: 2, evictedBytes: 2 * CHUNK, diskBytes: 3 * CHUNK, diskLimitBytes: 4 * CHUNK });
  });

  it('stays under the cap through many puts, and a memory hit also counts as a use', async () => {
    const t = await capped(5 * CHUNK, 1 << 20);
    await t.cache.put(digests[0]!, chunks[0]!);
    for (let i = 1; i < 10; i++) {
      t.cache.peek(digests[0]!); // served from memory: still the most recently used on disk
      await t.cache.put(digests[i]!, chunks[i]!);
      expect(await filesBytes(t.dir)).toBeLessThanOrEqual(5 * CHUNK);
      expect(t.cache.stats().diskBytes).toBe(await filesBytes(t.dir));
    }
    expect(t.cache.has(digests[0]!)).toBe(true);
    await stat(fileOf(t.dir, digests[0]!));
    expect(t.cache.stats().evictions).toBe(6);
    // An evicted chunk left the memory LRU too: `has` is not a promise the cache cannot keep.
    expect(t.cache.has(digests[1]!)).toBe(false);
    expect(t.cache.peek(digests[1]!)).toBeUndefined();
  });

  it('0 is no cap; bad values are refused', async () => {
    const t = await capped(0);
    for (let i = 0; i < 10; i++) await t.cache.put(digests[i]!, chunks[i]!);
    expect(t.cache.stats()).toMatchObject({ diskBytes: 10 * CHUNK, diskLimitBytes: 0, evictions: 0 });
    for (const bad of [-1, 1.5, Number.NaN]) {
      await expect(ChunkCache.open(t.dir, { memoryBytes: 0, diskBytes: bad, log: t.log })).rejects.toThrow(InvalidArgumentError);
    }
  });

  it('rebuilds the index at open (oldest written first) and trims a directory that is over the new cap', async () => {
    const t = await capped(0);
    for (let i = 0; i < 6; i++) {
      await t.cache.put(digests[i]!, chunks[i]!);
      const when = new Date(Date.now() - (10 - i) * 60_000); // chunk 0 oldest
      await utimes(fileOf(t.dir, digests[i]!), when, when);
    }
    const open = await ChunkCache.open(t.dir, { memoryBytes: 0, diskBytes: 1_000_000, log: t.log });
    expect(open.stats()).toMatchObject({ diskBytes: 6 * CHUNK, evictions: 0 });
    expect(digests.slice(0, 6).every((d) => open.has(d))).toBe(true);
    const small = await ChunkCache.open(t.dir, { memoryBytes: 0, diskBytes: 3 * CHUNK, log: t.log });
    expect(small.stats()).toMatchObject({ diskBytes: 2 * CHUNK, evictions: 4 });
    expect(digests.slice(0, 6).map((d) => small.has(d))).toEqual([false, false, false, false, true, true]);
    expect(await filesBytes(t.dir)).toBe(2 * CHUNK);
    expect(t.lines.some((l) => l.msg === 'chunk cache: over its cap at open; trimmed' && l.chunks === 6)).toBe(true);
  });

  it('answers a chunk it does not index as a miss without I/O; a put replaces that file whole; forgets files that vanished', async () => {
    const t = await capped(0);
    const other = await ChunkCache.open(t.dir, { memoryBytes: 0, log: t.log });
    await other.put(digests[0]!, chunks[0]!);
    // Written by another instance after this one opened: not in its index, a miss (one refetch).
    expect(t.cache.has(digests[0]!)).toBe(false);
    expect(await t.cache.get(digests[0]!)).toBeUndefined();
    expect(t.cache.stats()).toMatchObject({ misses: 1, corrupt: 0, diskBytes: 0 });
    // The refetched chunk's put writes it again (the new file replaces the old one whole) and indexes it.
    await t.cache.put(digests[0]!, chunks[0]!);
    expect(t.cache.stats()).toMatchObject({ diskBytes: CHUNK, writes: 1 });
    await t.cache.put(digests[0]!, chunks[0]!); // known now: not written again
    expect(t.cache.stats()).toMatchObject({ diskBytes: CHUNK, writes: 1 });
    expect((await t.cache.get(digests[0]!))?.equals(chunks[0]!)).toBe(true);
    // A file this instance wrote, then found gone: a miss, and out of the index.
    await t.cache.put(digests[1]!, chunks[1]!);
    const { rm } = await import('node:fs/promises');
    await rm(fileOf(t.dir, digests[1]!));
    expect(await t.cache.get(digests[1]!)).toBeUndefined();
    expect(t.cache.has(digests[1]!)).toBe(false);
    expect(t.cache.stats().diskBytes).toBe(CHUNK);
  });
});

describe('DiskCap', () => {
  it('never removes a pinned chunk, and stops when only pinned ones are left over the cap', async () => {
    const t = await tempCache();
    const store = await DiskStore.open(join(t.dir, 'pins'), t.log);
    for (let i = 0; i < 4; i++) await store.write(digests[i]!, chunks[i]!);
    const evicted: string[] = [];
    const pinned = new Set([digests[0]!, digests[1]!]);
    const cap = new DiskCap({ store, limitBytes: CHUNK, isPinned: (d) => pinned.has(d), onEvicted: (d) => evicted.push(d), log: t.log });
    await cap.enforce();
    expect(evicted).toEqual([digests[2], digests[3]]);
    expect(store.index.bytes).toBe(2 * CHUNK); // over the cap, but both are in use
    expect(t.lines.some((l) => l.msg.includes('every chunk left is in use'))).toBe(true);
    pinned.clear();
    await cap.enforce();
    expect(store.index.bytes).toBe(0); // 95 % of one chunk holds none
    expect(cap.evictions).toBe(4);
    cap.close();
  });
});
