/**
 * A chunk file this process wrote (verified data) is read back without hashing it, whole or
 * by range, while it is that very file; a rewrite of it is hashed and caught. A reopened cache
 * (another process) hashes it before trusting it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sha256 } from '../estargz/make-blob.js';
import { testData } from '../registry/servers/test-client.js';
import { removeTemps, tempCache } from '../layer/layer-env.js';

const hashes = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  const createHash: typeof original.createHash = (...args) => {
    hashes.count++;
    return original.createHash(...args);
  };
  // digestOf hashes a chunk in one shot (crypto.hash).
  const hash = ((...args: Parameters<typeof original.hash>) => {
    hashes.count++;
    return original.hash(...args);
  }) as typeof original.hash;
  return { ...original, default: { ...original, createHash, hash }, createHash, hash };
});

afterEach(removeTemps);

const data = testData(10_000, 5);
const digest = sha256(data);
const fileOf = (dir: string, d: string) => join(dir, d.slice(7, 9), d.slice(7));

describe('ChunkCache: the files it wrote', () => {
  it('reads them back without hashing, whole and by range', async () => {
    const t = await tempCache(0); // no memory: every get reads the disk
    await t.cache.put(digest, data);
    hashes.count = 0;
    expect((await t.cache.get(digest))?.equals(data)).toBe(true);
    expect((await t.cache.readRange(digest, 100, 50, data.length))?.equals(data.subarray(100, 150))).toBe(true);
    expect(hashes.count).toBe(0);
    expect(t.cache.stats()).toMatchObject({ diskHits: 2, corrupt: 0 });
  });

  it('hashes and catches a rewrite of one in place (same size)', async () => {
    const t = await tempCache(0);
    await t.cache.put(digest, data);
    const bad = Buffer.from(data);
    bad[7] = bad[7]! ^ 0x04;
    await writeFile(fileOf(t.dir, digest), bad); // same inode and size; its ctime changes
    hashes.count = 0;
    expect(await t.cache.get(digest)).toBeUndefined();
    expect(hashes.count).toBeGreaterThan(0);
    expect(t.cache.stats()).toMatchObject({ corrupt: 1 });
  });

  it('another process (a reopened cache) hashes it before trusting it', async () => {
    const t = await tempCache(0);
    await t.cache.put(digest, data);
    const again = await t.reopen(0);
    hashes.count = 0;
    expect((await again.get(digest))?.equals(data)).toBe(true);
    expect(hashes.count).toBeGreaterThan(0);
  });
});
