/**
 * Complete files (cache/complete-files.ts) on a real cache directory: a one-chunk file is its
 * chunk file; a multi-chunk file gets a backing file assembled in the background once all its
 * chunks are cached, checked against its digest, shared by identical files, under the caps,
 * and hashed again after a restart before it serves.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCache, type ChunkCacheOptions } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import type { ChunkRef, LayerNode } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { sha256 } from '../estargz/make-blob.js';
import { testData } from '../registry/servers/test-client.js';
import { captureLog, type LogLine } from '../layer/layer-env.js';

const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function openCache(opts: Partial<ChunkCacheOptions> = {}, dir?: string): Promise<{ cache: ChunkCache; dir: string; lines: LogLine[] }> {
  const root = dir ?? join(await mkdtemp(join(tmpdir(), 'sh-cf-')), 'cache');
  if (dir === undefined) temps.push(join(root, '..'));
  const { log, lines } = captureLog();
  const cache = await ChunkCache.open(root, { memoryBytes: 0, log, ...opts });
  return { cache, dir: root, lines };
}

/** A regular file node cut into `pieces` chunks (what the index hands out, for these tests). */
function fileOf(data: Buffer, pieces: number, opts: { digest?: string | null; path?: string } = {}): { node: LayerNode; chunks: Buffer[] } {
  const size = Math.ceil(data.length / pieces);
  const chunks: Buffer[] = [];
  const refs: ChunkRef[] = [];
  for (let at = 0; at < data.length; at += size) {
    const bytes = data.subarray(at, Math.min(data.length, at + size));
    chunks.push(bytes);
    refs.push({ offset: 0, compressedSize: 1, innerOffset: 0, chunkOffset: at, chunkSize: bytes.length, chunkDigest: sha256(bytes) });
  }
  const digest = opts.digest === null ? undefined : (opts.digest ?? sha256(data));
  const node = { ino: 2, type: 'reg', size: data.length, path: opts.path ?? 'usr/lib/big.so', digest, chunks: refs, mode: 0o644 } as unknown as LayerNode;
  return { node, chunks };
}

async function putAll(cache: ChunkCache, chunks: Buffer[]): Promise<void> {
  for (const c of chunks) await cache.put(sha256(c), c);
}

const data = testData(3 * 1024 * 1024 + 123, 7);

describe('CompleteFiles', () => {
  it('a file wanted before its last chunk arrived (reads finish out of order) is assembled once that chunk is stored; the wait is bounded', async () => {
    const t = await openCache();
    t.cache.files.enable();
    const { node, chunks } = fileOf(data, 4);
    await putAll(t.cache, chunks.slice(0, 3));
    t.cache.files.want(node); // the read reaching the end finished first
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(node)).toBeUndefined();
    await putAll(t.cache, chunks.slice(3));
    await t.cache.flush();
    await t.cache.files.idle();
    expect((await readFile(t.cache.files.completeFile(node)!.path)).equals(data)).toBe(true);
    // Bounded: 1,100 files waiting for chunks that never come, then the first's chunk: forgotten.
    const waiting = Array.from({ length: 1_100 }, (_, i) => fileOf(testData(2_000, 100 + i), 2, { path: `w/${i}` }));
    for (const w of waiting) {
      await t.cache.put(sha256(w.chunks[0]!), w.chunks[0]!);
      t.cache.files.want(w.node);
    }
    await t.cache.files.idle();
    const before = t.cache.files.stats();
    await putAll(t.cache, waiting[0]!.chunks.slice(1));
    await t.cache.flush();
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(waiting[0]!.node)).toBeUndefined();
    await putAll(t.cache, waiting[1_099]!.chunks.slice(1));
    await t.cache.flush();
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(waiting[1_099]!.node)).toBeDefined();
    expect(t.cache.files.stats().assembled).toBe(before.assembled + 1);
  });

  it('a one-chunk file is its verified chunk file: no assembly, no byte more on disk', async () => {
    const t = await openCache();
    const { node, chunks } = fileOf(data.subarray(0, 100_000), 1);
    expect(t.cache.files.completeFile(node)).toBeUndefined();
    await putAll(t.cache, chunks);
    const file = t.cache.files.completeFile(node)!;
    expect(file.key).toBe(sha256(chunks[0]!));
    expect((await readFile(file.path)).equals(chunks[0]!)).toBe(true);
    expect(t.cache.stats().diskBytes).toBe(100_000);
  });

  it('assembles a multi-chunk file in the background once every chunk is cached; the open never waits', async () => {
    const t = await openCache();
    t.cache.files.enable();
    const { node, chunks } = fileOf(data, 4);
    await putAll(t.cache, chunks.slice(0, 3));
    t.cache.files.want(node);
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(node)).toBeUndefined(); // a chunk is missing: not complete
    await putAll(t.cache, chunks.slice(3));
    t.cache.files.want(node);
    expect(t.cache.files.completeFile(node)).toBeUndefined(); // answered at once, assembly not started yet
    await t.cache.files.idle();
    const file = t.cache.files.completeFile(node)!;
    expect(file.path).toContain(join('files', 'sha256'));
    expect((await readFile(file.path)).equals(data)).toBe(true);
    expect(t.cache.files.stats()).toMatchObject({ assembled: 1, assembledBytes: data.length });
    // Chunks stay; the backing file counts against the cap too.
    expect(t.cache.stats().diskBytes).toBe(2 * data.length);
    expect(await readdir(join(t.dir, 'tmp'))).toEqual([]);
  });

  it('does nothing before enable(): without a passthrough mount, backing files would only cost disk', async () => {
    const t = await openCache();
    const { node, chunks } = fileOf(data, 3);
    await putAll(t.cache, chunks);
    t.cache.files.want(node);
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(node)).toBeUndefined();
    expect(t.cache.files.stats().assembled).toBe(0);
  });

  it('rejects bytes that do not hash to the file digest: nothing installed, the temp file removed, one warning', async () => {
    const t = await openCache();
    t.cache.files.enable();
    const { node, chunks } = fileOf(data, 3, { digest: sha256(Buffer.from('something else')) });
    await putAll(t.cache, chunks);
    t.cache.files.want(node);
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(node)).toBeUndefined();
    expect(await readdir(join(t.dir, 'tmp'))).toEqual([]);
    await expect(stat(join(t.dir, 'files'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(t.lines.filter((l) => l.msg.includes('not assembled'))).toHaveLength(1);
  });

  it('never makes a backing file from a tampered chunk file: the chunk is caught, removed, and the file stays incomplete', async () => {
    const first = await openCache();
    const { node, chunks } = fileOf(data, 3, { digest: null });
    await putAll(first.cache, chunks);
    const t = await openCache({}, first.dir); // a restart: no chunk file is trusted yet
    t.cache.files.enable();
    const victim = join(t.dir, sha256(chunks[1]!).slice(7, 9), sha256(chunks[1]!).slice(7));
    const bad = Buffer.from(chunks[1]!);
    bad[10] = bad[10]! ^ 0xff;
    await writeFile(victim, bad);
    t.cache.files.want(node);
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(node)).toBeUndefined();
    await expect(stat(victim)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(t.cache.stats().corrupt).toBe(1);
    await expect(stat(join(t.dir, 'files'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('identical files of two layers share one backing file; without a digest the chunk list names it', async () => {
    const t = await openCache();
    t.cache.files.enable();
    const a = fileOf(data, 3, { digest: null, path: 'a' });
    const b = fileOf(data, 3, { digest: null, path: 'b/other' });
    await putAll(t.cache, a.chunks);
    t.cache.files.want(a.node);
    t.cache.files.want(b.node);
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(a.node)!.path).toBe(t.cache.files.completeFile(b.node)!.path);
    expect(t.cache.files.completeFile(a.node)!.path).toContain(join('files', 'chunks'));
    expect(t.cache.files.stats().assembled).toBe(1);
  });

  it('keeps to maxFileBytes and maxTotalBytes: room is made by removing the least recently used backing file', async () => {
    const small = data.subarray(0, 1_000_000);
    const other = testData(1_000_000, 99);
    const t = await openCache({ files: { maxFileBytes: 2_000_000, maxTotalBytes: 1_500_000 } });
    t.cache.files.enable();
    const big = fileOf(data, 4);
    const one = fileOf(small, 2);
    const two = fileOf(other, 2);
    for (const f of [big, one, two]) await putAll(t.cache, f.chunks);
    t.cache.files.want(big.node);
    t.cache.files.want(one.node);
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(big.node)).toBeUndefined();
    expect(t.cache.files.stats().tooLarge).toBe(1);
    expect(t.cache.files.completeFile(one.node)).toBeDefined();
    t.cache.files.want(two.node);
    await t.cache.files.idle();
    expect(t.cache.files.completeFile(two.node)).toBeDefined();
    expect(t.cache.files.completeFile(one.node)).toBeUndefined(); // removed to make room
    expect((await readdir(join(t.dir, 'files', 'sha256'), { recursive: true })).filter((n) => n.length > 10)).toHaveLength(1);
  });

  it('after a restart, a backing file found is counted at once and serves only once hashed again; a wrong one is removed', async () => {
    const first = await openCache();
    first.cache.files.enable();
    const good = fileOf(data, 3);
    const bad = fileOf(testData(2_000_000, 5), 2);
    for (const f of [good, bad]) await putAll(first.cache, f.chunks);
    first.cache.files.want(good.node);
    first.cache.files.want(bad.node);
    await first.cache.files.idle();
    const badPath = first.cache.files.completeFile(bad.node)!.path;
    const tampered = await readFile(badPath);
    tampered[5] = tampered[5]! ^ 1;
    await writeFile(badPath, tampered);
    const bytes = first.cache.stats().diskBytes;
    const t = await openCache({}, first.dir);
    expect(t.cache.stats().diskBytes).toBe(bytes);
    t.cache.files.enable();
    expect(t.cache.files.completeFile(good.node)).toBeUndefined(); // not verified by this process yet
    t.cache.files.want(good.node);
    t.cache.files.want(bad.node);
    await t.cache.files.idle();
    expect((await readFile(t.cache.files.completeFile(good.node)!.path)).equals(data)).toBe(true);
    expect(t.cache.files.completeFile(bad.node)).toBeUndefined();
    await expect(stat(badPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(t.cache.files.stats()).toMatchObject({ verified: 1, rejected: 1 });
  });

  it('the disk cap counts backing files and evicts them like chunks (least recently used first)', async () => {
    const t = await openCache({ diskBytes: 2 * data.length + 1000 });
    t.cache.files.enable();
    const f = fileOf(data, 3);
    await putAll(t.cache, f.chunks);
    t.cache.files.want(f.node);
    await t.cache.files.idle();
    const path = t.cache.files.completeFile(f.node)!.path;
    expect(t.cache.stats().diskBytes).toBe(2 * data.length);
    const more = testData(data.length, 11);
    await t.cache.put(sha256(more), more); // 3x the file: the three chunks go first, then the backing file
    await t.cache.flush();
    expect(t.cache.stats().diskBytes).toBe(data.length);
    expect(t.cache.files.completeFile(f.node)).toBeUndefined();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
