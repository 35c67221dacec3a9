/**
 * Prefetch at mount time: the prioritized files of a layer (before `.prefetch.landmark`, in
 * blob order) fetched into the chunk cache, so that a container's first reads (its entrypoint,
 * libraries, config) find them there. Whole files, in order, while they fit in `maxBytes`
 * (compressed); batches of up to BATCH_BYTES go out as one multi-range request each (touching
 * members merge into one range), so a contiguous prioritized region costs a few large
 * requests. Chunks already cached are skipped; foreground reads of a chunk being prefetched
 * join that fetch. `.no.prefetch.landmark` or no landmark: nothing to do.
 */
import { InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import type { LayerIndex } from '../estargz/layer-index.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import type { WantedChunk } from './wanted-chunk.js';
import { percent } from '../protocol/percent.js';

/** Compressed bytes asked for in one request. */
const BATCH_BYTES = 32 * 1024 * 1024;
/** Progress lines at most this often. */
const PROGRESS_EVERY_MS = 1000;

export interface PrefetchOptions {
  /** Compressed bytes to fetch at most (files already cached cost nothing). */
  maxBytes: number;
  /** Stop after this long. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface PrefetchResult {
  /** Prioritized files now in the cache. */
  files: number;
  /** Compressed bytes fetched. */
  bytes: number;
  /** Every prioritized file is in the cache. */
  complete: boolean;
}

export interface PrefetchDeps {
  index: LayerIndex;
  cache: ChunkCache;
  log: Logger;
  blobDigest: string;
  fetch(wanted: readonly WantedChunk[], signal: AbortSignal): Promise<unknown>;
}

interface Batch {
  wanted: WantedChunk[];
  bytes: number;
  /** Files whose last missing chunk is in this batch. */
  filesDone: number;
}

export async function runPrefetch(deps: PrefetchDeps, o: PrefetchOptions): Promise<PrefetchResult> {
  if (!Number.isSafeInteger(o.maxBytes) || o.maxBytes < 0) {
    throw new InvalidArgumentError(`prefetch: maxBytes must be a non-negative integer, got ${o.maxBytes}`);
  }
  if (!Number.isSafeInteger(o.timeoutMs) || o.timeoutMs <= 0) {
    throw new InvalidArgumentError(`prefetch: timeoutMs must be a positive integer, got ${o.timeoutMs}`);
  }
  const { index, log } = deps;
  const { landmark, files } = index.prefetch;
  if (landmark !== 'prefetch' || files.length === 0) {
    log.debug({ blob: deps.blobDigest, landmark }, 'prefetch: no prioritized files');
    return { files: 0, bytes: 0, complete: true };
  }
  const started = Date.now();
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;

  const { batches, cachedFiles, fits } = await plan(deps, o.maxBytes);
  const totalBytes = batches.reduce((n, b) => n + b.bytes, 0);
  log.info({ blob: deps.blobDigest, files: files.length, cachedFiles, totalBytes, maxBytes: o.maxBytes }, 'prefetch started');

  let bytes = 0;
  let filesDone = cachedFiles;
  let lastLog = started;
  let stopped: string | undefined;
  for (const batch of batches) {
    try {
      await deps.fetch(batch.wanted, signal);
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      stopped = timeout.aborted ? `time limit of ${o.timeoutMs} ms reached` : (err as Error).message;
      if (!timeout.aborted) log.warn({ blob: deps.blobDigest, err }, 'prefetch failed; the files are fetched when read');
      break;
    }
    bytes += batch.bytes;
    filesDone += batch.filesDone;
    if (Date.now() - lastLog >= PROGRESS_EVERY_MS) {
      lastLog = Date.now();
      log.info({ blob: deps.blobDigest, percent: percent(bytes, totalBytes), bytes, totalBytes, files: filesDone }, 'prefetch progress');
    }
  }
  if (stopped === undefined && !fits) stopped = `maxBytes ${o.maxBytes} reached`;
  const complete = stopped === undefined;
  log.info(
    {
      blob: deps.blobDigest,
      percent: percent(bytes, totalBytes),
      bytes,
      files: filesDone,
      of: files.length,
      ms: Date.now() - started,
      ...(stopped ? { stopped } : {}),
    },
    complete ? 'prefetch done' : 'prefetch stopped',
  );
  return { files: filesDone, bytes, complete };
}

/** Batches of the missing chunks of the prioritized files, whole files in order while they fit. */
async function plan(deps: PrefetchDeps, maxBytes: number): Promise<{ batches: Batch[]; cachedFiles: number; fits: boolean }> {
  const batches: Batch[] = [];
  const members = new Set<number>();
  const chunks = new Set<string>();
  let budget = maxBytes;
  let cachedFiles = 0;
  let current: Batch = { wanted: [], bytes: 0, filesDone: 0 };
  for (const file of deps.index.prefetch.files) {
    const held = file.chunks.map((c) => deps.cache.has(c.chunkDigest));
    const missing = file.chunks.filter((c, i) => !held[i] && !chunks.has(c.chunkDigest));
    if (missing.length === 0) {
      cachedFiles++;
      continue;
    }
    const newMembers = [...new Set(missing.map((c) => c.offset))].filter((m) => !members.has(m));
    const cost = newMembers.reduce((n, m) => n + missing.find((c) => c.offset === m)!.compressedSize, 0);
    if (cost > budget) {
      if (current.wanted.length > 0) batches.push(current);
      return { batches, cachedFiles, fits: false };
    }
    budget -= cost;
    for (const c of missing) {
      chunks.add(c.chunkDigest);
      if (!members.has(c.offset)) {
        members.add(c.offset);
        if (current.wanted.length > 0 && current.bytes + c.compressedSize > BATCH_BYTES) {
          batches.push(current);
          current = { wanted: [], bytes: 0, filesDone: 0 };
        }
        current.bytes += c.compressedSize;
      }
      current.wanted.push({ chunk: c, path: file.path });
    }
    current.filesDone++;
  }
  if (current.wanted.length > 0) batches.push(current);
  return { batches, cachedFiles, fits: true };
}

