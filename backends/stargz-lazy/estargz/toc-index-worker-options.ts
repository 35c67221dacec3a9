/** Options and defaults of the TOC index worker pool (toc-index-worker-pool.ts). */

/** Worker threads of a pool unless told otherwise. */
export const DEFAULT_INDEX_WORKERS = 2;

/**
 * V8 heap limits of each worker (MiB). A worker's young generation is what a TOC's parse fills
 * and V8 keeps it committed between jobs: Node 24's default grows to 3 semi-spaces of up to
 * 64 MiB; 4 MiB holds it small at no measured cost in indexing time (docs/benchmarks.md,
 * "Memory (issue 16)"). The old generation holds the TOC while it is indexed (~1 kB per entry
 * at the peak: 100k entries fit in 104 MiB, 200k do not); fused sets it from its memory
 * budget (protocol/memory-budget.ts). A worker that reaches it dies and rejects only its job.
 */
export const DEFAULT_WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 512 } as const;

/** Workers idle this long are stopped (their heaps go with them); the next job starts one again, cold. */
export const DEFAULT_WORKER_IDLE_MS = 60_000;

/** Workers never stopped for being idle (the first ones of the pool): their warm code stays. */
export const DEFAULT_KEEP_WARM = 1;

/** A worker idle this long collects its garbage (a full GC in its own thread; its warm code stays). */
export const COLLECT_AFTER_MS = 500;

export interface WorkerIndexerOptions {
  /** The compiled worker entry (default: toc-index-worker.js next to this module). */
  file?: string | undefined;
  /** Worker threads, 1 to 16 (default DEFAULT_INDEX_WORKERS). */
  workers?: number | undefined;
  /** Heap limits of each worker (default DEFAULT_WORKER_LIMITS). */
  resourceLimits?: { maxYoungGenerationSizeMb?: number; maxOldGenerationSizeMb?: number } | undefined;
  /** Stop a worker after this long without a job, ms (default DEFAULT_WORKER_IDLE_MS; 0: never). */
  idleMs?: number | undefined;
  /** The first this many workers are never stopped for being idle (default DEFAULT_KEEP_WARM). */
  keepWarm?: number | undefined;
}

/** The options with their defaults, checked. */
export function resolveWorkerOptions(o: WorkerIndexerOptions): {
  workers: number;
  idleMs: number;
  keepWarm: number;
  resourceLimits: { maxYoungGenerationSizeMb?: number; maxOldGenerationSizeMb?: number };
} {
  const workers = o.workers ?? DEFAULT_INDEX_WORKERS;
  if (!Number.isInteger(workers) || workers < 1 || workers > 16) throw new RangeError(`workers must be an integer from 1 to 16, got ${workers}`);
  const idleMs = o.idleMs ?? DEFAULT_WORKER_IDLE_MS;
  if (!Number.isSafeInteger(idleMs) || idleMs < 0) throw new RangeError(`idleMs must be a non-negative integer, got ${idleMs}`);
  const keepWarm = o.keepWarm ?? DEFAULT_KEEP_WARM;
  if (!Number.isInteger(keepWarm) || keepWarm < 0) throw new RangeError(`keepWarm must be a non-negative integer, got ${keepWarm}`);
  return { workers, idleMs, keepWarm, resourceLimits: { ...DEFAULT_WORKER_LIMITS, ...o.resourceLimits } };
}
