/**
 * The size cap of the on-disk chunk cache: once the indexed bytes pass `limitBytes`, the least
 * recently used files are removed until the bytes are at most the low-water mark (95 % of the
 * cap: a little room, so that every put near the cap does not start another run). Chunks being
 * read or written (`isPinned`) are skipped, never removed under a reader. One run at a time;
 * a put that crosses the cap during a run is handled by the same run.
 *
 * Each eviction is logged at debug; a summary (how many, how many bytes, the size now) at info
 * at most every SUMMARY_EVERY_MS, so a cache that churns does not flood the log.
 */
import type { Logger } from '../../../core/sdk.js';
import type { DiskStore } from './disk-store.js';

const SUMMARY_EVERY_MS = 5_000;
const LOW_WATER = 0.95;

export interface DiskCapDeps {
  store: DiskStore;
  /** 0: no cap. */
  limitBytes: number;
  isPinned(digest: string): boolean;
  /** Called with each digest whose file was removed. */
  onEvicted(digest: string): void;
  log: Logger;
}

export class DiskCap {
  #running: Promise<void> | undefined;
  #evictions = 0;
  #pending = { chunks: 0, bytes: 0 };
  #lastSummary = 0;
  #summaryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DiskCapDeps) {}

  get limitBytes(): number {
    return this.deps.limitBytes;
  }

  /** A new cap (a live configuration change; 0: none); a lower one evicts at once. */
  setLimit(limitBytes: number): Promise<void> {
    this.deps.limitBytes = limitBytes;
    return this.enforce();
  }

  /** Files removed by the cap so far. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Whether the cache is over its cap now. */
  over(): boolean {
    return this.deps.limitBytes > 0 && this.deps.store.index.bytes > this.deps.limitBytes;
  }

  /** Evict when over the cap; resolves when the cache is back under it (or only pinned chunks are left). */
  enforce(): Promise<void> {
    // A run in progress checks the size again before it ends, so it covers this call too.
    if (this.#running) return this.#running;
    if (!this.over()) return Promise.resolve();
    this.#running = this.#run();
    return this.#running;
  }

  /** Log what is not summarized yet and stop the summary timer. */
  close(): void {
    clearTimeout(this.#summaryTimer);
    this.#summaryTimer = undefined;
    this.#summarize();
  }

  async #run(): Promise<void> {
    // Never settle synchronously: `enforce` sets #running after this returns its promise.
    await null;
    try {
      await this.#evict();
    } finally {
      // In the same synchronous step as the last size check: no put can slip in between.
      this.#running = undefined;
    }
    this.#scheduleSummary();
  }

  async #evict(): Promise<void> {
    const { store, limitBytes, isPinned, log } = this.deps;
    const lowWater = Math.floor(limitBytes * LOW_WATER);
    while (this.over()) {
      let bytes = store.index.bytes;
      const victims: [string, number][] = [];
      for (const [digest, size] of store.index.oldestFirst()) {
        if (bytes <= lowWater) break;
        if (isPinned(digest)) continue;
        victims.push([digest, size]);
        bytes -= size;
      }
      if (victims.length === 0) {
        log.debug({ diskBytes: store.index.bytes, diskLimitBytes: limitBytes }, 'chunk cache: over its cap, but every chunk left is in use');
        break;
      }
      for (const [digest, size] of victims) {
        try {
          await store.remove(digest);
        } catch (err) {
          // Its bytes left the index anyway: a file that cannot be removed must not stop the cap.
          log.warn({ err, digest }, 'chunk cache: cannot remove an evicted chunk file');
        }
        this.#evictions++;
        this.#pending.chunks++;
        this.#pending.bytes += size;
        this.deps.onEvicted(digest);
        log.debug({ digest, bytes: size }, 'chunk cache: evicted');
      }
    }
  }

  #scheduleSummary(): void {
    const wait = this.#lastSummary + SUMMARY_EVERY_MS - Date.now();
    if (wait <= 0) {
      this.#summarize();
      return;
    }
    this.#summaryTimer ??= setTimeout(() => {
      this.#summaryTimer = undefined;
      this.#summarize();
    }, wait).unref();
  }

  #summarize(): void {
    if (this.#pending.chunks === 0) return;
    const { store, limitBytes, log } = this.deps;
    log.info(
      { evicted: this.#pending.chunks, evictedBytes: this.#pending.bytes, diskBytes: store.index.bytes, diskLimitBytes: limitBytes, evictions: this.#evictions },
      'chunk cache: evicted least recently used chunks to stay under its cap',
    );
    this.#pending = { chunks: 0, bytes: 0 };
    this.#lastSummary = Date.now();
  }
}
