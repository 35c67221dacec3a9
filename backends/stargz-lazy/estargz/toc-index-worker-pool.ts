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
 *   jobs go to the least used worker, which warms both. An idle worker collects its garbage at
 *   once; beyond the first `keepWarm` (kept warm for the next pull: a cold worker made a second
 *   rpull ~3x slower), one idle for `idleMs` is stopped, and started again, cold, by the next
 *   job. Heaps are capped (`resourceLimits`, toc-index-worker-options.ts; the old generation by
 *   protocol/memory-budget.ts).
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
import { IdleTimers } from './idle-timers.js';
import { revive } from './revive-packed.js';
import { COLLECT_AFTER_MS, resolveWorkerOptions, type WorkerIndexerOptions } from './toc-index-worker-options.js';

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
  /** Armed while it has no job: its worker collects its garbage, then stops (unless `keep`). */
  idle: IdleTimers;
  /** One of the first `keepWarm` slots: its worker is never stopped for being idle. */
  keep: boolean;
  /** Jobs given to this slot so far (the least used free slot takes the next job). */
  used: number;
}

export class WorkerIndexer implements TocIndexer {
  readonly #log: Logger;
  readonly #file: string;
  readonly #slots: Slot[];
  readonly #queue: Job[] = [];
  readonly #limits: ReturnType<typeof resolveWorkerOptions>['resourceLimits'];
  readonly #idleMs: number;
  /** Whether the worker file exists: undefined until first looked at. */
  #haveFile: boolean | undefined;
  #closed = false;
  #nextId = 1;

  constructor(log: Logger, options: WorkerIndexerOptions = {}) {
    this.#log = log;
    this.#file = options.file ?? fileURLToPath(new URL('./toc-index-worker.js', import.meta.url));
    const { workers, idleMs, keepWarm, resourceLimits } = resolveWorkerOptions(options);
    this.#idleMs = idleMs;
    this.#limits = resourceLimits;
    this.#slots = Array.from({ length: workers }, (_, i) => ({ worker: undefined, job: undefined, idle: new IdleTimers(), used: 0, keep: i < keepWarm }));
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
        message: { id, compressed, expectedDigest: r.expectedDigest, tocOffset: r.tocOffset, format: r.format, declaredTocBytes: r.declaredTocBytes, limits: r.limits },
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
      slot.idle.disarm();
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
    slot.idle.disarm();
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

  /** A slot left without a job: its worker collects its garbage soon and stops after `idleMs`, unless a job comes first. */
  #armIdle(slot: Slot): void {
    const worker = slot.worker;
    if (this.#closed || slot.job !== undefined || worker === undefined) return;
    const idle = () => slot.job === undefined && slot.worker === worker;
    slot.idle.arm({
      collectAfterMs: COLLECT_AFTER_MS,
      stopAfterMs: slot.keep ? 0 : this.#idleMs,
      collect: () => idle() && worker.postMessage(COLLECT),
      stop: () => {
        if (!idle()) return;
        this.#log.debug({ idleMs: this.#idleMs }, 'TOC index worker idle: stopped until the next job');
        this.#stopWorker(slot);
      },
    });
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
    let outOfMemory = false;
    worker.on('error', (err) => {
      if (slot.worker !== worker) return;
      outOfMemory ||= (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.#log.warn({ err }, 'a TOC index worker failed');
    });
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return; // stopped on purpose, or replaced
      slot.worker = undefined;
      this.#log.warn({ code, outOfMemory }, 'a TOC index worker exited; the next job starts another');
      const job = slot.job;
      const heap = this.#limits.maxOldGenerationSizeMb;
      const why = outOfMemory
        ? `indexing this TOC needs more than the index worker's heap (${heap ?? 'default'} MiB, from fusedMemoryLimitBytes); a larger fusedMemoryLimitBytes lets it through`
        : `the TOC index worker exited (code ${code}) while indexing`;
      if (job !== undefined) this.#settle(job, new UnavailableError(why));
      this.#pump();
    });
    slot.worker = worker;
    return worker;
  }
}
