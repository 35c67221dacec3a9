/**
 * A `TocIndexer` that indexes in a worker thread (toc-index-worker.ts), so that the thread that
 * answers FUSE operations keeps answering them while a large TOC is inflated, checked and
 * indexed (a 5000-entry TOC is tens of ms of CPU, a 100k-entry one about a second).
 *
 * One worker, started on first use, jobs in order. When the worker reports a failure, cannot be
 * started (the compiled worker file is missing, as when running from TypeScript sources) or
 * dies, the job is done in the calling thread instead: errors then come with their usual class
 * and message, and nothing is lost. `close` ends the worker.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../core/sdk.js';
import type { PackedPrefetch } from './build-tree.js';
import { LayerIndex } from './layer-index.js';
import type { PackedTreeData } from './packed-tree.js';
import { inThreadIndexer, type IndexedToc, type TocIndexer, type TocIndexRequest } from './toc-indexer.js';

interface Answer {
  id: number;
  ok: boolean;
  digest?: string;
  packed?: { data: PackedTreeData; prefetch: PackedPrefetch };
}

export class WorkerIndexer implements TocIndexer {
  readonly #log: Logger;
  readonly #file: string;
  #worker: Worker | undefined;
  #broken = false;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (a: Answer | undefined) => void }>();

  /** `file`: the compiled worker entry (default: toc-index-worker.js next to this module). */
  constructor(log: Logger, file?: string) {
    this.#log = log;
    this.#file = file ?? fileURLToPath(new URL('./toc-index-worker.js', import.meta.url));
  }

  async index(r: TocIndexRequest): Promise<IndexedToc> {
    const answer = await this.#post(r);
    if (answer?.ok && answer.digest !== undefined && answer.packed !== undefined) {
      return { digest: answer.digest, index: LayerIndex.fromPacked(revive(answer.packed)) };
    }
    return inThreadIndexer.index(r);
  }

  /** Start the worker now (it loads its modules while nothing waits for it). */
  start(): void {
    this.#ensure();
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#broken = true;
    this.#settleAll();
    await worker?.terminate();
  }

  /** The worker's answer, or undefined when the job is to be done here. */
  #post(r: TocIndexRequest): Promise<Answer | undefined> {
    const worker = this.#ensure();
    if (worker === undefined) return Promise.resolve(undefined);
    const id = this.#nextId++;
    // A copy of exactly these bytes, moved to the worker: posting a view would clone its whole
    // underlying buffer (a registry response can be far larger than the TOC).
    const compressed = new Uint8Array(r.compressed);
    return new Promise((resolve) => {
      this.#pending.set(id, { resolve });
      worker.postMessage({ id, compressed, expectedDigest: r.expectedDigest, tocOffset: r.tocOffset, limits: r.limits }, [compressed.buffer]);
    });
  }

  #ensure(): Worker | undefined {
    if (this.#worker !== undefined || this.#broken) return this.#worker;
    if (!existsSync(this.#file)) {
      this.#broken = true;
      this.#log.debug({ file: this.#file }, 'no compiled TOC index worker: indexing in this thread');
      return undefined;
    }
    const worker = new Worker(this.#file);
    worker.unref();
    worker.on('message', (a: Answer) => {
      const p = this.#pending.get(a.id);
      this.#pending.delete(a.id);
      p?.resolve(a);
    });
    worker.on('error', (err) => this.#log.warn({ err }, 'the TOC index worker failed; indexing in this thread from now on'));
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#broken = true;
      if (code !== 0) this.#log.warn({ code }, 'the TOC index worker exited; indexing in this thread from now on');
      this.#settleAll();
    });
    this.#worker = worker;
    return worker;
  }

  /** Jobs still out: done in the calling thread. */
  #settleAll(): void {
    for (const p of this.#pending.values()) p.resolve(undefined);
    this.#pending.clear();
  }
}

/** Structured clone turns Buffers into plain Uint8Arrays: the tables are Buffers again. */
function revive(p: { data: PackedTreeData; prefetch: PackedPrefetch }): { data: PackedTreeData; prefetch: PackedPrefetch } {
  const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const xattrs = new Map<number, ReadonlyMap<string, Buffer>>();
  for (const [ino, m] of p.data.xattrs) xattrs.set(ino, new Map([...m].map(([k, v]) => [k, buf(v)])));
  return { data: { ...p.data, names: buf(p.data.names), digests: buf(p.data.digests), xattrs }, prefetch: p.prefetch };
}
