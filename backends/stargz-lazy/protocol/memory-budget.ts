/**
 * How the FUSE-serving process spends `fusedMemoryLimitBytes` (options.ts): the one place that
 * turns the ceiling into V8 heap limits (the process's `NODE_OPTIONS`, spawn-fused.ts), the index
 * workers' resource limits (toc-index-worker-pool.ts), the memory chunk cache's budget (main.ts,
 * live-config.ts) and the cgroup limits when it runs on the host (`cgroupLimitsOf`, cgroup-memory.ts). `snaphost
 * check` warns when the configured memory cache does not fit (`budgetProblems`).
 *
 * The model, from measurements of fused (docs/benchmarks.md, "Memory (issue 16)"):
 *
 *   limit = BASE (Node's code, native memory, threads, the main young generation)
 *         + workers x WORKER (each TOC index worker while it runs: its isolate and young generation)
 *         + memory chunk cache
 *         + main old-generation heap (the packed layer indexes, chunk lists, in-flight state)
 *
 * The heap gets what is left, at least MIN_HEAP; the memory cache is cut first when the ceiling
 * is too small for both.
 */
const MiB = 1024 * 1024;

/** Node's mapped code, native allocations, thread stacks and the main young generation. */
export const BASE_BYTES = 96 * MiB;
/** One running TOC index worker (its isolate, young generation and a TOC's parse). */
export const WORKER_BYTES = 24 * MiB;
/** Below this old-generation heap a few large layers no longer fit. */
export const MIN_HEAP_BYTES = 64 * MiB;
/** TOC index workers of the process (toc-index-worker-options.ts DEFAULT_INDEX_WORKERS). */
export const BUDGET_WORKERS = 2;
/** Young generation of the main isolate (`--max-semi-space-size`): garbage of FUSE requests is short-lived and small. */
export const SEMI_SPACE_MB = 2;
/** The smallest ceiling: BASE + the workers + MIN_HEAP, nothing left for the memory cache. */
export const MIN_FUSED_MEMORY_LIMIT_BYTES = BASE_BYTES + BUDGET_WORKERS * WORKER_BYTES + MIN_HEAP_BYTES;
/** The default ceiling: the reference benchmark leaves fused well under it (docs/benchmarks.md). */
export const DEFAULT_FUSED_MEMORY_LIMIT_BYTES = 256 * MiB;

export interface MemoryBudget {
  limitBytes: number;
  /** The memory chunk cache's budget: `cache.memoryBytes`, cut to what the ceiling leaves. */
  cacheBytes: number;
  /** `--max-old-space-size` of the main isolate, MiB. */
  heapMb: number;
  /** Each index worker's `maxOldGenerationSizeMb`: a worker never needs more than the main heap that takes its result. */
  workerHeapMb: number;
  /** Whether `cache.memoryBytes` was cut to fit. */
  cacheCut: boolean;
}

/** The budget of a ceiling of `limitBytes` with a memory cache of `memoryBytes` asked for. */
export function memoryBudget(limitBytes: number, memoryBytes: number): MemoryBudget {
  for (const [name, v] of Object.entries({ limitBytes, memoryBytes })) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`memory budget: ${name} must be a non-negative integer, got ${v}`);
  }
  if (limitBytes < MIN_FUSED_MEMORY_LIMIT_BYTES) {
    throw new RangeError(`memory budget: ${limitBytes} bytes is below the smallest ceiling (${MIN_FUSED_MEMORY_LIMIT_BYTES})`);
  }
  const fixed = BASE_BYTES + BUDGET_WORKERS * WORKER_BYTES;
  const cacheBytes = Math.min(memoryBytes, limitBytes - fixed - MIN_HEAP_BYTES);
  const heapMb = Math.floor((limitBytes - fixed - cacheBytes) / MiB);
  return { limitBytes, cacheBytes, heapMb, workerHeapMb: heapMb, cacheCut: cacheBytes < memoryBytes };
}

/** V8 flags of the process (its `NODE_OPTIONS`). */
export function nodeFlagsOf(b: MemoryBudget): string[] {
  return [`--max-old-space-size=${b.heapMb}`, `--max-semi-space-size=${SEMI_SPACE_MB}`];
}

/**
 * The cgroup limits of the process on the host (fused/cgroup-memory.ts): `high` (reclaim and
 * throttle above it, never a kill) at the ceiling; `max` (the kernel kills above it) at twice
 * the ceiling, for the old and the new generation that share the cgroup during an upgrade, plus
 * `inflateBudgetBytes`, the inflated chunks a gzip bomb may make it hold for a moment on top.
 */
export function cgroupLimitsOf(limitBytes: number, inflateBudgetBytes: number): { high: number; max: number } {
  for (const [name, v] of Object.entries({ limitBytes, inflateBudgetBytes })) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`cgroup limits: ${name} must be a non-negative integer, got ${v}`);
  }
  return { high: limitBytes, max: 2 * limitBytes + inflateBudgetBytes };
}

/** What `snaphost check` says about the ceiling (nothing when the caches fit). */
export function budgetProblems(limitBytes: number, memoryBytes: number): string[] {
  const b = memoryBudget(limitBytes, memoryBytes);
  if (!b.cacheCut) return [];
  const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
  return [
    `fusedMemoryLimitBytes (${mib(limitBytes)}) is below what cache.memoryBytes (${mib(memoryBytes)}) needs next to the rest of the FUSE process ` +
      `(${mib(BASE_BYTES)} base, ${BUDGET_WORKERS} index workers of ${mib(WORKER_BYTES)}, a heap of at least ${mib(MIN_HEAP_BYTES)}): ` +
      `the memory cache is cut to ${mib(b.cacheBytes)}; raise the limit to ${mib(limitBytes + memoryBytes - b.cacheBytes)} or lower cache.memoryBytes`,
  ];
}
