/** ChunkCache on a real temp directory: atomic files, verification on read, memory in front. */
import { mkdir, readdir, readFile, stat, writeFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { sha256 } from '../estargz/make-blob.js';
import { testData } from '../registry/servers/test-client.js';
import { captureLog, removeTemps, tempCache } from '../layer/layer-env.js';

afterEach(removeTemps);

const data = testData(10_000, 5);
const digest = sha256(data);
const fileOf = (dir: string, d: string) => join(dir, d.slice(7, 9), d.slice(7));

describe('ChunkCache', () => {
  it('keeps chunks on disk at <hex[0:2]>/<hex> across a reopen', async () => {
    const t = await tempCache();
    expect(await t.cache.get(digest)).toBeUndefined();
    await t.cache.put(digest, data);
    expect((await readFile(fileOf(t.dir, digest))).equals(data)).toBe(true);
    const again = await t.reopen();
    expect((await again.get(digest))?.equals(data)).toBe(true);
    expect(again.stats()).toMatchObject({ diskHits: 1, misses: 0, corrupt: 0 });
    expect(await again.has(digest)).toBe(true);
    expect(await again.has(sha256(Buffer.from('other')))).toBe(false);
    expect(await readdir(join(t.dir, 'tmp'))).toEqual([]);
  });

  it('never returns a file with a flipped bit: it is removed and reported as a miss', async () => {
    const t = await tempCache();
    await t.cache.put(digest, data);
    const file = fileOf(t.dir, digest);
    const bad = Buffer.from(data);
    bad[5000] = bad[5000]! ^ 0x01;
    await writeFile(file, bad);
    expect(await t.cache.get(digest)).toBeUndefined();
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(t.cache.stats()).toMatchObject({ corrupt: 1, misses: 1 });
    const line = t.lines.find((l) => l.msg.includes('does not match its digest'));
    expect(line).toMatchObject({ level: 40, digest });
    // Refilled, it is served again.
    await t.cache.put(digest, data);
    expect((await t.cache.get(digest))?.equals(data)).toBe(true);
  });

  it('trusts a file it verified only while it is that very file: a rewrite in place (same size) is caught', async () => {
    const t = await tempCache(0); // no memory: every get reads the disk
    await t.cache.put(digest, data);
    const again = await t.reopen(0);
    expect((await again.get(digest))?.equals(data)).toBe(true); // hashed, remembered
    expect((await again.get(digest))?.equals(data)).toBe(true); // the same file: trusted
    const file = fileOf(t.dir, digest);
    const bad = Buffer.from(data);
    bad[42] = bad[42]! ^ 0x80;
    await writeFile(file, bad); // same inode and size; its ctime changes
    expect(await again.get(digest)).toBeUndefined();
    expect(again.stats()).toMatchObject({ diskHits: 2, corrupt: 1 });
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('treats a truncated file and an oversized file as corrupt', async () => {
    const t = await tempCache();
    await t.cache.put(digest, data);
    await writeFile(fileOf(t.dir, digest), data.subarray(0, 100));
    expect(await t.cache.get(digest)).toBeUndefined();
    await t.cache.put(digest, data);
    const small = await ChunkCache.open(t.dir, { memoryBytes: 0, log: t.log, maxChunkBytes: 1000 });
    expect(await small.get(digest)).toBeUndefined();
    expect(small.stats().corrupt).toBe(1);
  });

  it('serves from memory without touching the disk while within the budget', async () => {
    const t = await tempCache(25_000);
    await t.cache.put(digest, data);
    await writeFile(fileOf(t.dir, digest), Buffer.alloc(3)); // would be corrupt if read
    expect((await t.cache.get(digest))?.equals(data)).toBe(true);
    const others = [1, 2, 3].map((i) => testData(10_000, 100 + i));
    for (const o of others) await t.cache.put(sha256(o), o);
    expect(t.cache.stats().memoryBytes).toBeLessThanOrEqual(25_000);
    // Evicted from memory now: the disk copy is read, found corrupt, removed.
    expect(await t.cache.get(digest)).toBeUndefined();
    expect(t.cache.stats()).toMatchObject({ memoryHits: 1, corrupt: 1 });
  });

  it('makes concurrent puts of one digest harmless: one whole file, no temporary left', async () => {
    const t = await tempCache();
    await Promise.all(Array.from({ length: 20 }, () => t.cache.put(digest, data)));
    expect((await readFile(fileOf(t.dir, digest))).equals(data)).toBe(true);
    expect(t.cache.stats().writes).toBe(1);
    // Another instance (another process) racing on the same digest.
    const other = await t.reopen();
    await Promise.all([other.put(digest, data), (await t.reopen()).put(digest, data)]);
    expect(await readdir(join(t.dir, 'tmp'))).toEqual([]);
    expect((await readFile(fileOf(t.dir, digest))).equals(data)).toBe(true);
  });

  it('rewrites a file whose size is wrong instead of trusting it', async () => {
    const t = await tempCache();
    await mkdir(join(t.dir, digest.slice(7, 9)), { recursive: true });
    await writeFile(fileOf(t.dir, digest), Buffer.alloc(7));
    await t.cache.put(digest, data);
    expect((await readFile(fileOf(t.dir, digest))).equals(data)).toBe(true);
  });

  it('serves a chunk while its file is being written', async () => {
    const t = await tempCache(0);
    const writing = t.cache.put(digest, data);
    expect((await t.cache.get(digest))?.equals(data)).toBe(true);
    await writing;
    await t.cache.flush();
  });

  it('removes temporary files of dead processes and old ones on open, keeps fresh ones of live processes', async () => {
    const t = await tempCache();
    const tmp = join(t.dir, 'tmp');
    await writeFile(join(tmp, '4194999-deadbeef'), 'x'); // beyond pid_max: not running
    await writeFile(join(tmp, `${process.pid}-old`), 'x');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(join(tmp, `${process.pid}-old`), hourAgo, hourAgo);
    await writeFile(join(tmp, `${process.ppid}-fresh`), 'x');
    await t.reopen();
    expect(await readdir(tmp)).toEqual([`${process.ppid}-fresh`]);
    expect(t.lines.some((l) => l.msg.includes('removed temporary files') && l.removed === 2)).toBe(true);
  });

  it('refuses digests that are not digests (they become paths) and bad options', async () => {
    const t = await tempCache();
    for (const bad of ['../../etc/passwd', `sha256:${'A'.repeat(64)}`, 'sha256:../../x']) {
      await expect(t.cache.get(bad)).rejects.toThrow(InvalidArgumentError);
      await expect(t.cache.put(bad, data)).rejects.toThrow(InvalidArgumentError);
    }
    const { log } = captureLog();
    await expect(ChunkCache.open(t.dir, { memoryBytes: -1, log })).rejects.toThrow(/memoryBytes/);
    await expect(ChunkCache.open('', { memoryBytes: 0, log })).rejects.toThrow(InvalidArgumentError);
    await expect(t.cache.put(digest, 'text' as unknown as Buffer)).rejects.toThrow(/Buffer/);
  });

  it('lays out sha512 chunks under their algorithm and verifies them too', async () => {
    const t = await tempCache();
    const { createHash } = await import('node:crypto');
    const d512 = `sha512:${createHash('sha512').update(data).digest('hex')}`;
    await t.cache.put(d512, data);
    const file = join(t.dir, 'sha512', d512.slice(7, 9), d512.slice(7));
    expect((await readFile(file)).equals(data)).toBe(true);
    expect((await (await t.reopen()).get(d512))?.equals(data)).toBe(true);
  });
});
