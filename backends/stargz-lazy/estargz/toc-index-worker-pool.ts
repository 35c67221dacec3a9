/**
 * A `TocIndexer` that indexes in worker threads (toc-index-worker.ts), so that the thread that
 * answers FUSE operations keeps answering them while a large TOC is inflated, checked and
 * indexed (a 5000-entry TOC is tens of ms of CPU, a 100k-entry one about a second), whatever
 * the TOC is: its work is never done in the calling thread.
 *
 * - A small pool (default 2 workers, started on first use or by `start`), one job per worker
 *   at a time, jobs waiting in order for a free worker: a slow layer holds one worker and the
 *   layers after it are indexed in the other, while a node's indexing stays within 2 cores.
 *   Workers stay up between jobs, so the JIT warm-up (fused/warm-up.ts) is kept; the warm-up's
 *   jobs go to the least used worker, which warms both. A worker idle for a moment collects its
 *   garbage (a TOC's parse leaves tens of MiB in its heap); one idle for `idleMs` (default a
 *   minute: the layers of a pull come seconds apart) is stopped, and the next job starts it
 *   again, cold. Each worker's heap is capped (`resourceLimits`): its young generation small
 *   (DEFAULT_WORKER_LIMITS), its old one by fused's memory budget (protocol/memory-budget.ts).
 * - A job's running time is bounded by the `maxIndexMs` limit: past it the worker is stopped
 *   (a new one is started for the next job) and the job rejects with an `EstargzLimitError`.
 * - A job is cancelled by its request's `signal`: a waiting job leaves the queue, a running
 *   one stops its worker; either rejects with the signal's reason at once. Its listener is
 *   removed when the job ends, whichever way.
 * - A job that fails in the worker rejects with the worker's error (class, message and fields:
 *   transferable-error.ts). A worker that dies rejects its job (UnavailableError) and is
 *   replaced for the next one.
 *
 * With no compiled worker file (running from the TypeScript sources, as unit tests do) jobs are
 * done in the calling thread. `close` ends the workers and rejects the jobs not done.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnavailableError, type Logger } from '../../../core/sdk.js';
import type { PackedPrefetch } from './build-tree.js';
import { EstargzLimitError } from './errors.js';
import { LayerIndex } from './layer-index.js';
import { resolveLimits } from './limits.js';
import type { PackedTreeData } from './packed-tree.js';
import { COLLECT, type IndexJob } from './toc-index-worker.js';
import { inThreadIndexer, type IndexedToc, type TocIndexer, type TocIndexRequest } from './toc-indexer.js';
import { fromTransferable, type TransferableError } from './transferable-error.js';

/** Worker threads of a pool unless told otherwise. */
export const DEFAULT_INDEX_WORKERS = 2;

/**
 * V8 heap limits of each worker (MiB). A worker's young generation is what a TOC's parse fills
 * and V8 keeps it committed between jobs: its default (3 semi-spaces of up to 16 MiB) held
 * ~20 MiB per idle worker after the warm-up; 4 MiB costs no measurable indexing time on a
 * 5000-entry TOC (docs/benchmarks.md, "Memory (issue 16)"). The old generation holds the TOC
 * while it is indexed: 100k entries (`maxTocEntries`) need far less than this cap, and a worker
 * that reaches it dies and rejects only its job.
 */
export const DEFAULT_WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 512 } as const;

/** Workers idle this long are stopped (their heaps go with them); the next job starts one again. */
export const DEFAULT_WORKER_IDLE_MS = 60_000;

/** A worker idle this long collects its garbage (a full GC in its own thread; its warm code stays). */
const COLLECT_AFTER_MS = 500;

export interface WorkerIndexerOptions {
  /** The compiled worker entry (default: toc-index-worker.js next to this module). */
  file?: string | undefined;
  /** Worker threads, 1 to 16 (default DEFAULT_INDEX_WORKERS). */
  workers?: number | undefined;
  /** Heap limits of each worker (default DEFAULT_WORKER_LIMITS). */
  resourceLimits?: { maxYoungGenerationSizeMb?: number; maxOldGenerationSizeMb?: number } | undefined;
  /** Stop a worker after this long without a job, ms (default DEFAULT_WORKER_IDLE_MS; 0: never). */
  idleMs?: number | undefined;
}

interface Answer {
  id: number;
  ok: boolean;
  digest?: string;
  packed?: { data: PackedTreeData; prefetch: PackedPrefetch };
  error?: TransferableError;
}

interface Job {
  id: number;
  message: IndexJob;
  compressed: Uint8Array<ArrayBuffer>;
  maxMs: number;
  resolve: (r: IndexedToc) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  slot: Slot | undefined;
  timer: NodeJS.Timeout | undefined;
  startedAt: number;
}

interface Slot {
  worker: Worker | undefined;
  job: Job | undefined;
  /** Stops the idle worker (set while it has no job). */
  idle: NodeJS.Timeout | undefined;
  /** Makes the idle worker collect its garbage (set while it has no job). */
  collect: NodeJS.Timeout | undefined;
  /** Jobs given to this slot so far (the least used free slot takes the next job). */
  used: number;
}

export class WorkerIndexer implements TocIndexer {
  readonly #log: Logger;
  readonly #file: string;
  readonly #slots: Slot[];
  readonly #queue: Job[] = [];
  readonly #limits: NonNullable<WorkerIndexerOptions['resourceLimits']>;
  readonly #idleMs: number;
  /** Whether the worker file exists: undefined until first looked at. */
  #haveFile: boolean | undefined;
  #closed = false;
  #nextId = 1;

  constructor(log: Logger, options: WorkerIndexerOptions = {}) {
    this.#log = log;
    this.#file = options.file ?? fileURLToPath(new URL('./toc-index-worker.js', import.meta.url));
    const workers = options.workers ?? DEFAULT_INDEX_WORKERS;
    if (!Number.isInteger(workers) || workers < 1 || workers > 16) throw new RangeError(`workers must be an integer from 1 to 16, got ${workers}`);
    const idleMs = options.idleMs ?? DEFAULT_WORKER_IDLE_MS;
    if (!Number.isSafeInteger(idleMs) || idleMs < 0) throw new RangeError(`idleMs must be a non-negative integer, got ${idleMs}`);
    this.#idleMs = idleMs;
    this.#limits = { ...DEFAULT_WORKER_LIMITS, ...options.resourceLimits };
    this.#slots = Array.from({ length: workers }, () => ({ worker: undefined, job: undefined, idle: undefined, collect: undefined, used: 0 }));
  }

  index(r: TocIndexRequest): Promise<IndexedToc> {
    if (this.#closed) return Promise.reject(new UnavailableError('the TOC indexer is closed'));
    if (!this.#hasWorkerFile()) return inThreadIndexer.index(r);
    const { signal } = r;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<IndexedToc>((resolve, reject) => {
      const id = this.#nextId++;
      // A copy of exactly these bytes, moved to the worker: posting a view would clone its whole
      // underlying buffer (a registry response can be far larger than the TOC).
      const compressed = new Uint8Array(r.compressed);
      const job: Job = {
        id,
        message: { id, compressed, expectedDigest: r.expectedDigest, tocOffset: r.tocOffset, limits: r.limits },
        compressed,
        maxMs: resolveLimits(r.limits).maxIndexMs,
        resolve,
        reject,
        signal,
        onAbort: () => this.#abort(job, signal!.reason),
        slot: undefined,
        timer: undefined,
        startedAt: 0,
      };
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.#queue.push(job);
      this.#pump();
    });
  }

  /** Start the workers now (they load their modules while nothing waits for them). */
  start(): void {
    if (this.#closed || !this.#hasWorkerFile()) return;
    for (const slot of this.#slots) {
      this.#ensure(slot);
      this.#armIdle(slot);
    }
  }

  /** Workers running now (for tests and status). */
  get running(): number {
    return this.#slots.filter((s) => s.worker !== undefined).length;
  }

  /** Jobs waiting and running (for tests and status). */
  get pending(): number {
    return this.#queue.length + this.#slots.filter((s) => s.job !== undefined).length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const closed = new UnavailableError('the TOC indexer is closed');
    for (const job of this.#queue.splice(0)) this.#settle(job, closed);
    const stopping: Promise<number>[] = [];
    for (const slot of this.#slots) {
      if (slot.job !== undefined) this.#settle(slot.job, closed);
      this.#disarm(slot);
      const worker = slot.worker;
      slot.worker = undefined;
      if (worker !== undefined) stopping.push(worker.terminate());
    }
    await Promise.all(stopping);
  }

  #hasWorkerFile(): boolean {
    if (this.#haveFile === undefined) {
      this.#haveFile = existsSync(this.#file);
      if (!this.#haveFile) this.#log.debug({ file: this.#file }, 'no compiled TOC index worker: indexing in this thread');
    }
    return this.#haveFile;
  }

  /** Free workers take the waiting jobs, in order. */
  #pump(): void {
    while (this.#queue.length > 0) {
      let free: Slot | undefined;
      for (const slot of this.#slots) if (slot.job === undefined && (free === undefined || slot.used < free.used)) free = slot;
      if (free === undefined) return;
      this.#run(free, this.#queue.shift()!);
    }
  }

  #run(slot: Slot, job: Job): void {
    this.#disarm(slot);
    const worker = this.#ensure(slot);
    slot.job = job;
    slot.used++;
    job.slot = slot;
    job.startedAt = performance.now();
    job.timer = setTimeout(() => {
      const ms = Math.round(performance.now() - job.startedAt);
      this.#log.warn({ ms, maxIndexMs: job.maxMs }, 'indexing a TOC took too long: its worker is stopped');
      this.#abort(job, new EstargzLimitError('maxIndexMs', ms, job.maxMs, 'time to index the TOC (ms)'));
    }, job.maxMs);
    job.timer.unref();
    worker.postMessage(job.message, [job.compressed.buffer]);
  }

  /** Rejects `job` with `reason`, stopping its worker if it runs. */
  #abort(job: Job, reason: unknown): void {
    const slot = job.slot;
    if (slot === undefined) {
      const at = this.#queue.indexOf(job);
      if (at < 0) return; // ended already
      this.#queue.splice(at, 1);
      this.#settle(job, reason);
      return;
    }
    if (slot.job !== job) return;
    this.#stopWorker(slot);
    this.#settle(job, reason);
    this.#pump();
  }

  #disarm(slot: Slot): void {
    clearTimeout(slot.idle);
    clearTimeout(slot.collect);
    slot.idle = undefined;
    slot.collect = undefined;
  }

  /**
   * A slot left without a job has its worker collect its garbage after COLLECT_AFTER_MS, and
   * stops it after `idleMs`, unless a job comes first.
   */
  #armIdle(slot: Slot): void {
    if (this.#closed || slot.job !== undefined || slot.worker === undefined) return;
    this.#disarm(slot);
    const worker = slot.worker;
    slot.collect = setTimeout(() => {
      slot.collect = undefined;
      if (slot.job === undefined && slot.worker === worker) worker.postMessage(COLLECT);
    }, COLLECT_AFTER_MS);
    slot.collect.unref();
    if (this.#idleMs === 0) return;
    slot.idle = setTimeout(() => {
      slot.idle = undefined;
      if (slot.job !== undefined || slot.worker === undefined) return;
      this.#log.debug({ idleMs: this.#idleMs }, 'TOC index worker idle: stopped until the next job');
      this.#stopWorker(slot);
    }, this.#idleMs);
    slot.idle.unref();
  }

  #stopWorker(slot: Slot): void {
    const worker = slot.worker;
    slot.worker = undefined; // its exit is no news
    void worker?.terminate().catch((err: unknown) => this.#log.warn({ err }, 'stopping a TOC index worker failed'));
  }

  /** Ends `job`: frees its slot, drops its timer and listener, settles its promise. */
  #settle(job: Job, error: unknown, answer?: IndexedToc): void {
    const slot = job.slot;
    if (slot !== undefined && slot.job === job) slot.job = undefined;
    job.slot = undefined;
    if (slot !== undefined) this.#armIdle(slot);
    if (job.timer !== undefined) clearTimeout(job.timer);
    job.timer = undefined;
    job.signal?.removeEventListener('abort', job.onAbort);
    if (answer !== undefined) job.resolve(answer);
    else job.reject(error);
  }

  #ensure(slot: Slot): Worker {
    if (slot.worker !== undefined) return slot.worker;
    const worker = new Worker(this.#file, { resourceLimits: this.#limits });
    worker.unref();
    worker.on('message', (a: Answer) => {
      const job = slot.job;
      if (slot.worker !== worker || job === undefined || job.id !== a.id) return;
      if (a.ok && a.digest !== undefined && a.packed !== undefined) {
        let answer: IndexedToc;
        try {
          answer = { digest: a.digest, index: LayerIndex.fromPacked(revive(a.packed)) };
        } catch (err) {
          this.#settle(job, err);
          this.#pump();
          return;
        }
        this.#settle(job, undefined, answer);
      } else {
        this.#settle(job, a.error ? fromTransferable(a.error) : new UnavailableError('the TOC index worker failed without saying why'));
      }
      this.#pump();
    });
    worker.on('error', (err) => {
      if (slot.worker === worker) this.#log.warn({ err }, 'a TOC index worker failed');
    });
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return; // stopped on purpose, or replaced
      slot.worker = undefined;
      this.#log.warn({ code }, 'a TOC index worker exited; the next job starts another');
      const job = slot.job;
      if (job !== undefined) this.#settle(job, new UnavailableError(`the TOC index worker exited (code ${code}) while indexing`));
      this.#pump();
    });
    slot.worker = worker;
    return worker;
  }
}

/** Structured clone turns Buffers into plain Uint8Arrays: the tables are Buffers again. */
function revive(p: { data: PackedTreeData; prefetch: PackedPrefetch }): { data: PackedTreeData; prefetch: PackedPrefetch } {
  const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const xattrs = new Map<number, ReadonlyMap<string, Buffer>>();
  for (const [ino, m] of p.data.xattrs) xattrs.set(ino, new Map([...m].map(([k, v]) => [k, buf(v)])));
  return { data: { ...p.data, names: buf(p.data.names), digests: buf(p.data.digests), xattrs }, prefetch: p.prefetch };
}
