/**
 * Warm-up of the FUSE-serving process right after it starts, before it is asked to mount
 * anything (a mount stops it: real work first): a fresh Node
 * process runs its code cold (interpreted, then compiled while it runs), and the first real
 * layer paid for that inside a `prepare`: opening a 5000-file TOC took ~45 ms cold against
 * ~20 ms warm, and the first registry request loaded and compiled the HTTP client. Here the
 * same code runs on a small synthetic eStargz layer (warm-up-blob.ts) served from 127.0.0.1 by
 * a throwaway server: the registry client fetches its footer and TOC (single and multi-range
 * requests), the layer is opened and indexed a few times, its files are looked up, listed and
 * read through the FUSE operation table (chunks fetched, verified, cached in a temporary
 * cache). Nothing of it stays: its own registry client, cache directory and server are closed
 * and removed, and no counter of the process sees it. A failure is logged and ignored.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Logger } from '../../../core/sdk.js';
import { ChunkCache } from '../cache/chunk-cache.js';
import type { EstargzLimits } from '../estargz/limits.js';
import { inThreadIndexer, type TocIndexer } from '../estargz/toc-indexer.js';
import { LayerFs } from '../fs/layer-fs.js';
import { RemoteLayer } from '../layer/remote-layer.js';
import { parseReference } from '../registry/reference.js';
import { RegistryClient } from '../registry/registry-client.js';
import { makeWarmUpBlob, makeWarmUpToc } from './warm-up-blob.js';
import { makeWarmUpDir, sweepWarmUpDirs } from './warm-up-dirs.js';
import { serveWarmUpBlob } from './warm-up-server.js';

export interface WarmUpOptions {
  log: Logger;
  /** Stops the warm-up between its steps (a real request needs the process). */
  signal?: AbortSignal;
  /** The process's TOC indexer (its worker thread warms up too). */
  indexer?: TocIndexer;
  limits: Partial<EstargzLimits>;
  regionBytes: number;
}

/** Rounds of open + walk + reads; the later ones run the code the earlier ones made hot. */
const ROUNDS = 2;
const DIRS = 20;
const FILES_PER_DIR = 40;
/** Small files read per round (region reads fetch their neighbours). */
const READS = 3;

/** Runs the warm-up; resolves with how long it took (ms), never rejects. */
export async function warmUp(o: WarmUpOptions): Promise<number> {
  const started = performance.now();
  const quiet = o.log.child({ component: 'warm-up' }, { level: 'silent' });
  let dir: string | undefined;
  let server: Awaited<ReturnType<typeof serveWarmUpBlob>> | undefined;
  let registry: RegistryClient | undefined;
  let cache: ChunkCache | undefined;
  try {
    // The indexer's thread on a TOC as large as a real layer's, while this one runs the rest.
    const indexing = warmUpIndexer(o).catch((err: unknown) => o.log.warn({ err }, 'warm-up of the TOC indexer failed'));
    const blob = makeWarmUpBlob(DIRS, FILES_PER_DIR);
    server = await serveWarmUpBlob(blob.bytes);
    const swept = await sweepWarmUpDirs(tmpdir());
    if (swept > 0) o.log.info({ dir: tmpdir(), removed: swept }, 'removed warm-up directories of FUSE processes that were killed during their warm-up');
    dir = await makeWarmUpDir(tmpdir());
    registry = new RegistryClient({ hostsDirs: [] }, { log: quiet });
    cache = await ChunkCache.open(dir, { memoryBytes: 4 * 1024 * 1024, diskBytes: 0, log: quiet });
    const reference = parseReference(`${server.host}/warm-up/layer:latest`, 'reference');
    for (let round = 0; round < ROUNDS && !o.signal?.aborted; round++) {
      const layer = await RemoteLayer.open({
        blob: registry.blob(reference, { digest: blob.digest, urls: [] }),
        expectedTocDigest: blob.tocDigest,
        cache,
        limits: o.limits,
        indexer: o.indexer,
        regionBytes: o.regionBytes,
        log: quiet,
      });
      if (o.signal?.aborted) break;
      layer.progress();
      const fs = new LayerFs({ layer, digest: blob.digest, log: quiet, readTimeoutMs: 10_000 });
      walk(fs, '/');
      const step = Math.max(1, Math.floor(blob.files.length / READS));
      for (let i = round; i < blob.files.length && !o.signal?.aborted; i += step) await readAll(fs, `/${blob.files[i]!}`);
      await readAll(fs, `/${blob.bigFile}`);
    }
    await indexing;
    const ms = performance.now() - started;
    o.log.debug({ ms: Math.round(ms), stopped: o.signal?.aborted ?? false }, 'warmed up');
    return ms;
  } catch (err) {
    o.log.warn({ err }, 'warm-up failed (only the first requests are slower)');
    return performance.now() - started;
  } finally {
    // Chunk writes still in flight would put files back into the directory while it is removed.
    await cache?.flush().catch(() => undefined);
    cache?.close();
    await registry?.close().catch(() => undefined);
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Entries of the TOC the indexer warms up on, and how many times. */
const INDEX_FILES = 4000;
const INDEX_ROUNDS = 4;

async function warmUpIndexer(o: WarmUpOptions): Promise<void> {
  const indexer = o.indexer ?? inThreadIndexer;
  // Both landmarks: a branch the warm-up never took sends the real layer's index back to
  // slower code when it takes it.
  const tocs = [makeWarmUpToc(INDEX_FILES, 'prefetch'), makeWarmUpToc(INDEX_FILES, 'no-prefetch')];
  for (let i = 0; i < INDEX_ROUNDS && !o.signal?.aborted; i++) {
    const { compressed, tocOffset } = tocs[i % tocs.length]!;
    await indexer.index({ compressed, tocOffset, limits: o.limits });
  }
}

/** A synchronous FUSE answer: a negative errno throws, anything else is the value. */
function answer<T>(value: T | number): T {
  if (typeof value === 'number' && value < 0) throw new Error(`warm-up: errno ${value}`);
  return value as T;
}

/** readdir of every directory and getattr of every entry, as `find` and lookups do. */
function walk(fs: LayerFs, path: string): void {
  const { names, stats } = answer(fs.readdir(path));
  for (let i = 2; i < names.length; i++) {
    const child = path === '/' ? `/${names[i]!}` : `${path}/${names[i]!}`;
    const st = answer(fs.getattr(child));
    fs.getxattr(child, 'trusted.overlay.metacopy');
    if ((st[0]! & 0o170000) === 0o040000 && (stats[i]![0]! & 0o170000) === 0o040000) walk(fs, child);
  }
}

/** getattr, then reads of 128 KiB to the end (libfuse answers open and release itself). */
async function readAll(fs: LayerFs, path: string): Promise<void> {
  const st = answer(fs.getattr(path));
  const size = st[3]! + st[4]! * 2 ** 32;
  const buf = Buffer.alloc(128 * 1024);
  for (let pos = 0; pos < size; pos += buf.length) {
    const n = await new Promise<number>((resolve) => fs.read(path, buf, buf.length, pos, resolve));
    if (n <= 0) throw new Error(`warm-up: read of ${path} at ${pos} answered ${n}`);
  }
}
