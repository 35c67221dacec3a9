/**
 * ChunkCache.readRange: the bytes a read asks of a large chunk, from memory or from the disk
 * file by range (the file verified once per process, hashed in pieces), never loaded whole and
 * never put in the memory LRU; a file that does not match is removed and reported as a miss.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../estargz/make-blob.js';
import { removeTemps, tempCache } from '../layer/layer-env.js';
import { testData } from '../registry/servers/test-client.js';

afterEach(removeTemps);

const MiB = 1024 * 1024;
const big = testData(16 * MiB, 9);
const digest = sha256(big);
const fileOf = (dir: string, d: string) => join(dir, d.slice(7, 9), d.slice(7));

describe('ChunkCache.readRange', () => {
  it('serves a range of a disk file without putting the chunk in memory; verified once, then trusted', async () => {
    const t = await tempCache(0);
    await t.cache.put(digest, big);
    const again = await t.reopen(64 * MiB);
    const piece = await again.readRange(digest, 5 * MiB + 3, 128 * 1024, big.length);
    expect(piece?.equals(big.subarray(5 * MiB + 3, 5 * MiB + 3 + 128 * 1024))).toBe(true);
    expect(piece!.length).toBe(128 * 1024);
    // Not loaded into the memory LRU (a reader of large chunks must not evict whole chunks).
    expect(again.stats()).toMatchObject({ memoryChunks: 0, memoryBytes: 0, diskHits: 1, corrupt: 0 });
    // Many reads of the same file: every one is served by range, right.
    for (let at = 0; at < big.length; at += 1024 * 1024 + 17) {
      const got = await again.readRange(digest, at, 4096, big.length);
      expect(got?.equals(big.subarray(at, Math.min(big.length, at + 4096)))).toBe(true);
    }
    expect(again.stats().memoryChunks).toBe(0);
  });

  it('a file changed on disk is hashed again: a flipped bit is never served, the file is removed', async () => {
    const t = await tempCache(0);
    await t.cache.put(digest, big);
    expect(await t.cache.readRange(digest, 0, 10, big.length)).toBeDefined(); // verified, trusted now
    const file = fileOf(t.dir, digest);
    const bad = Buffer.from(await readFile(file));
    bad[12 * MiB] = bad[12 * MiB]! ^ 0x01; // far from the range asked: only the whole-file hash sees it
    await writeFile(file, bad); // a write changes ctime/mtime: no longer the file verified
    expect(await t.cache.readRange(digest, 0, 10, big.length)).toBeUndefined();
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(t.cache.stats()).toMatchObject({ corrupt: 1 });
  });

  it('answers a miss for a file of another size than the chunk (the caller fetches; verification says)', async () => {
    const t = await tempCache(0);
    await t.cache.put(digest, big);
    expect(await t.cache.readRange(digest, 0, 10, big.length + 1)).toBeUndefined();
    expect(await t.cache.readRange(sha256(Buffer.from('absent')), 0, 10, 10)).toBeUndefined();
    // The file is kept: it is right for its own size.
    expect((await t.cache.readRange(digest, 1, 10, big.length))?.equals(big.subarray(1, 11))).toBe(true);
  });

  it('serves from memory when the chunk is held there', async () => {
    const t = await tempCache(64 * MiB);
    await t.cache.put(digest, big);
    const got = await t.cache.readRange(digest, 100, 50, big.length);
    expect(got?.equals(big.subarray(100, 150))).toBe(true);
    expect(t.cache.stats()).toMatchObject({ memoryHits: 1, diskHits: 0 });
  });

  it('bounds memory: 32 concurrent range reads of a 16 MiB chunk hold far less than one chunk each', async () => {
    const t = await tempCache(0);
    await t.cache.put(digest, big);
    const again = await t.reopen(0);
    await again.readRange(digest, 0, 1, big.length); // verified once (streaming, 1 MiB pieces)
    globalThis.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const reads = Array.from({ length: 32 }, (_, i) =>
      again.readRange(digest, i * 512 * 1024, 128 * 1024, big.length).then((b) => {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
        return b;
      }),
    );
    const got = await Promise.all(reads);
    got.forEach((b, i) => expect(b?.equals(big.subarray(i * 512 * 1024, i * 512 * 1024 + 128 * 1024))).toBe(true));
    // Whole-chunk loads would be 32 × 16 MiB = 512 MiB; ranges are 32 × 128 KiB = 4 MiB.
    expect(peak - before).toBeLessThan(64 * MiB);
  });
});
