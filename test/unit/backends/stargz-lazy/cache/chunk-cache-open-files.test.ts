/**
 * ChunkCache.readRange with chunk files kept open between reads: the descriptors stay bounded,
 * go when their chunk goes (removed as corrupt, evicted by the cap) and on close(), and a file
 * changed, replaced or cut short on disk is never answered from a descriptor checked before.
 */
import { readdir, readFile, readlink, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { sha256 } from '../estargz/make-blob.js';
import { removeTemps, tempCache } from '../layer/layer-env.js';
import { testData } from '../registry/servers/test-client.js';

afterEach(removeTemps);

const SIZE = 64 * 1024;
const chunks = Array.from({ length: 70 }, (_, i) => testData(SIZE, 300 + i));
const digests = chunks.map(sha256);
const fileOf = (dir: string, d: string) => join(dir, d.slice(7, 9), d.slice(7));

/** This process's descriptors open on files under `dir`. */
async function fdsUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${dir}/`)) out.push(target);
  }
  return out;
}

/** Closes run in the background: let them land. */
const settle = () => new Promise((r) => setTimeout(r, 20));

async function rangeOk(cache: ChunkCache, i: number, at = 100): Promise<boolean> {
  const got = await cache.readRange(digests[i]!, at, 50, SIZE);
  return got?.equals(chunks[i]!.subarray(at, at + 50)) ?? false;
}

describe('ChunkCache.readRange, chunk files kept open', () => {
  it('keeps at most 64 chunk files open, whatever the number of chunks read', async () => {
    const t = await tempCache(0);
    for (let i = 0; i < chunks.length; i++) await t.cache.put(digests[i]!, chunks[i]!);
    for (let round = 0; round < 2; round++) for (let i = 0; i < chunks.length; i++) expect(await rangeOk(t.cache, i)).toBe(true);
    await settle();
    const open = await fdsUnder(t.dir);
    expect(open.length).toBe(64);
    expect(new Set(open).size).toBe(64);
    t.cache.close();
    await settle();
    expect(await fdsUnder(t.dir)).toEqual([]);
    expect(await rangeOk(t.cache, 0)).toBe(true); // usable after close: opened again
  });

  it('closes the kept file of a chunk found corrupt (and removes it); answers the next read from a new file', async () => {
    const t = await tempCache(0);
    await t.cache.put(digests[0]!, chunks[0]!);
    expect(await rangeOk(t.cache, 0)).toBe(true);
    expect(await fdsUnder(t.dir)).toHaveLength(1);
    const bad = Buffer.from(chunks[0]!);
    bad[SIZE - 1] = bad[SIZE - 1]! ^ 0x01; // far from the range read: only the whole-file hash sees it
    await writeFile(fileOf(t.dir, digests[0]!), bad); // in place: same inode, kept open
    expect(await t.cache.readRange(digests[0]!, 100, 50, SIZE)).toBeUndefined();
    expect(t.cache.stats()).toMatchObject({ corrupt: 1 });
    await settle();
    expect(await fdsUnder(t.dir)).toEqual([]);
    await t.cache.put(digests[0]!, chunks[0]!); // fetched again
    expect(await rangeOk(t.cache, 0)).toBe(true);
  });

  it('closes the kept file of a chunk the cap evicts', async () => {
    const t = await tempCache(0);
    const cache = await ChunkCache.open(t.dir, { memoryBytes: 0, diskBytes: 2 * SIZE, log: t.log });
    await cache.put(digests[0]!, chunks[0]!);
    expect(await rangeOk(cache, 0)).toBe(true);
    for (let i = 1; i < 4; i++) await cache.put(digests[i]!, chunks[i]!);
    expect(cache.has(digests[0]!)).toBe(false);
    await settle();
    expect(await fdsUnder(t.dir)).toEqual([]);
  });

  it('hashes a file renamed over the chunk file at the next read (the kept inode is unlinked); never serves it unverified', async () => {
    const t = await tempCache(0);
    await t.cache.put(digests[0]!, chunks[0]!);
    expect(await rangeOk(t.cache, 0)).toBe(true);
    const bad = Buffer.from(chunks[0]!);
    bad[SIZE - 1] = bad[SIZE - 1]! ^ 0x01;
    const other = join(t.dir, 'tmp', 'replacement');
    await writeFile(other, bad);
    await rename(other, fileOf(t.dir, digests[0]!)); // a new inode at the path, same size
    expect(await t.cache.readRange(digests[0]!, 100, 50, SIZE)).toBeUndefined();
    expect(t.cache.stats()).toMatchObject({ corrupt: 1 });
    await settle();
    expect(await fdsUnder(t.dir)).toEqual([]);
  });

  it('never serves a file cut short (a crash, or truncated while kept open): a miss, rewritten whole by the next put', async () => {
    const t = await tempCache(0);
    await t.cache.put(digests[0]!, chunks[0]!);
    await t.cache.put(digests[1]!, chunks[1]!);
    expect(await rangeOk(t.cache, 1)).toBe(true); // kept open
    await truncate(fileOf(t.dir, digests[1]!), SIZE / 2);
    expect(await t.cache.readRange(digests[1]!, 100, 50, SIZE)).toBeUndefined();
    // A crash after the rename left chunk 0's file short; a new process finds it at open.
    await writeFile(fileOf(t.dir, digests[0]!), chunks[0]!.subarray(0, 1000));
    const again = await t.reopen(0);
    expect(await again.readRange(digests[0]!, 100, 50, SIZE)).toBeUndefined();
    expect(await again.get(digests[0]!)).toBeUndefined();
    expect(again.stats().corrupt).toBe(1);
    for (const i of [0, 1]) {
      await again.put(digests[i]!, chunks[i]!); // refetched
      expect((await readFile(fileOf(t.dir, digests[i]!))).equals(chunks[i]!)).toBe(true);
      expect(await rangeOk(again, i)).toBe(true);
    }
  });

  it('under concurrent reads with files corrupted meanwhile: never a wrong byte, at most 64 files open after', async () => {
    const t = await tempCache(0);
    for (let i = 0; i < chunks.length; i++) await t.cache.put(digests[i]!, chunks[i]!);
    let seed = 11;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    const corrupted = new Set<number>();
    const reads: Promise<void>[] = [];
    for (let k = 0; k < 400; k++) {
      const i = next(chunks.length);
      const at = next(SIZE - 64);
      if (k % 40 === 39) {
        const victim = next(chunks.length);
        corrupted.add(victim);
        const bad = Buffer.from(chunks[victim]!);
        bad[next(SIZE)]! ^= 0xff;
        await writeFile(fileOf(t.dir, digests[victim]!), bad);
      }
      reads.push(
        t.cache.readRange(digests[i]!, at, 64, SIZE).then((got) => {
          // Right bytes, or a miss (the file was found corrupt): nothing else.
          if (got !== undefined) expect(got.equals(chunks[i]!.subarray(at, at + 64))).toBe(true);
          else expect(corrupted.has(i)).toBe(true);
        }),
      );
    }
    await Promise.all(reads);
    await settle();
    expect((await fdsUnder(t.dir)).length).toBeLessThanOrEqual(64);
    expect(t.cache.stats().corrupt).toBeGreaterThan(0); // (two reads racing on one bad file count it twice)
    for (let i = 0; i < chunks.length; i++) {
      const got = await t.cache.readRange(digests[i]!, 0, SIZE, SIZE);
      if (corrupted.has(i)) expect(got).toBeUndefined();
      else expect(got?.equals(chunks[i]!)).toBe(true);
    }
  });
});
