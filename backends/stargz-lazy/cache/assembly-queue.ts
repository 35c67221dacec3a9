/**
 * The background queue of files to make complete (`complete-files.ts`): files wanted one by one
 * (an open or a read that reached a file's end) come first, then whole layers swept file by file
 * (a layer whose prefetch ended or whose background fetch completed). One job at a time, and a
 * turn of the event loop between sweep steps, so the work never holds the FUSE thread up and a
 * container's reads never wait for it: nothing here is awaited by a read or an open.
 *
 * Bounded: at most `maxQueued` wanted files (the oldest wish is dropped first, counted) and
 * `maxSweeps` layers swept at once (one more is refused, counted); a file wanted twice is queued
 * once (by its key).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '../../../core/sdk.js';
import type { LayerNode } from '../estargz/layer-node.js';

/** What a sweep walks (a `LayerIndex`). */
export interface SweptLayer {
  nodes(): IterableIterator<LayerNode>;
}

export type JobReason = 'wanted' | 'sweep';

export interface AssemblyQueueOptions {
  /** Does the work for one file; its errors are logged, never thrown further. */
  run(node: LayerNode, reason: JobReason, signal: AbortSignal): Promise<void>;
  keyOf(node: LayerNode): string;
  log: Logger;
  maxQueued?: number | undefined;
  maxSweeps?: number | undefined;
}

const SWEEP_STEPS_PER_TURN = 64;

export class AssemblyQueue {
  readonly #wanted = new Map<string, LayerNode>();
  readonly #sweeps: { layer: SweptLayer; nodes: Iterator<LayerNode> }[] = [];
  readonly #abort = new AbortController();
  readonly #maxQueued: number;
  readonly #maxSweeps: number;
  #running: Promise<void> | undefined;
  readonly counters = { dropped: 0, sweepsRefused: 0, failed: 0 };

  constructor(private readonly o: AssemblyQueueOptions) {
    this.#maxQueued = o.maxQueued ?? 1024;
    this.#maxSweeps = o.maxSweeps ?? 64;
  }

  want(node: LayerNode): void {
    if (this.#abort.signal.aborted) return;
    const key = this.o.keyOf(node);
    this.#wanted.delete(key);
    this.#wanted.set(key, node);
    if (this.#wanted.size > this.#maxQueued) {
      this.#wanted.delete(this.#wanted.keys().next().value!);
      this.counters.dropped++;
    }
    this.#start();
  }

  sweep(layer: SweptLayer): void {
    if (this.#abort.signal.aborted || this.#sweeps.some((s) => s.layer === layer)) return;
    if (this.#sweeps.length >= this.#maxSweeps) {
      this.counters.sweepsRefused++;
      return;
    }
    this.#sweeps.push({ layer, nodes: layer.nodes() });
    this.#start();
  }

  /** Resolves once nothing is queued or running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops: the job running ends at its next piece, nothing queued runs. */
  close(): void {
    this.#abort.abort();
    this.#wanted.clear();
    this.#sweeps.length = 0;
  }

  #start(): void {
    this.#running ??= this.#pump();
  }

  async #pump(): Promise<void> {
    await yieldToLoop(); // never in the caller's turn (an open, a read)
    try {
      let steps = 0;
      for (let job = this.#next(); job !== undefined; job = this.#next()) {
        try {
          await this.o.run(job.node, job.reason, this.#abort.signal);
        } catch (err) {
          this.counters.failed++;
          this.o.log.warn({ err, path: job.node.path.slice(0, 200) }, 'complete files: a file could not be made complete; it is served from its chunks');
        }
        if (++steps % SWEEP_STEPS_PER_TURN === 0) await yieldToLoop();
      }
    } finally {
      // In the same synchronous step as the last empty #next(): a want() after this starts a new pump.
      this.#running = undefined;
    }
  }

  #next(): { node: LayerNode; reason: JobReason } | undefined {
    const first = this.#wanted.entries().next();
    if (!first.done) {
      this.#wanted.delete(first.value[0]);
      return { node: first.value[1], reason: 'wanted' };
    }
    while (this.#sweeps.length > 0) {
      const step = this.#sweeps[0]!.nodes.next();
      if (!step.done) return { node: step.value, reason: 'sweep' };
      this.#sweeps.shift();
    }
    return undefined;
  }
}
