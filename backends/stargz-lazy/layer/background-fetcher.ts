/**
 * Background fetch of whole layers into the chunk cache, so that a mounted layer stops needing
 * its registry. A layer added waits `startDelayMs` (the pull and the container's start come
 * first), then at most `concurrency` layers fetch at once, in blob order, in batches of up to
 * `batchBytes` compressed bytes: one (multi-)range request per batch, touching members merged
 * into one range by the blob reader. Chunks are verified like every read (bad data is never
 * cached) and only those the cache does not hold are asked for.
 *
 * Foreground first: `noteForeground()` (a container read had to go to the registry) holds new
 * background requests back for `quietMs`; a layer waiting for that is `paused`.
 *
 * Failures (registry down, bad data) are not fatal: the layer is `failed` and tried again later
 * with exponential backoff. Two things stop a layer for good, said once at warn: a layer larger
 * than the cache's disk cap (it cannot be held whole), and a layer whose chunks the cap evicted
 * while it was being fetched (fetching it again would only push out other data: thrashing).
 *
 * Progress is logged per layer with its percent at most every ~10 % or PROGRESS_EVERY_MS,
 * `complete` at info.
 */
import { InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import { percent } from '../protocol/percent.js';
import { sleep } from '../registry/retry.js';
import { batches } from './fetch-batches.js';
import type { WantedChunk } from './wanted-chunk.js';

export type BackgroundState = 'waiting' | 'running' | 'paused' | 'complete' | 'failed';

/** What the fetcher needs of a layer (RemoteLayer is one). */
export interface BackgroundLayer {
  readonly blob: { readonly digest: string };
  progress(): { fetchedBytes: number; totalBytes: number };
  missingChunks(): WantedChunk[];
  fetchIntoCache(wanted: readonly WantedChunk[], signal?: AbortSignal): Promise<void>;
  readonly cacheLimitBytes: number;
}

export interface BackgroundFetcherOptions {
  /** Layers fetched at the same time (>= 1). */
  concurrency: number;
  /** Hold background requests back this long after a foreground registry read. */
  quietMs: number;
  /** Start a layer this long after it was added. */
  startDelayMs: number;
  log: Logger;
  /** Compressed bytes per request (default 16 MiB). */
  batchBytes?: number | undefined;
  /** First retry delay after a failure (default 5 s), doubled each time up to `retryMaxMs` (default 5 min). */
  retryBaseMs?: number | undefined;
  retryMaxMs?: number | undefined;
}

export interface BackgroundProgress {
  state: BackgroundState;
  fetchedBytes: number;
  totalBytes: number;
}

const PROGRESS_EVERY_MS = 5_000;
/** How often layers that completed are checked for chunks the cache cap took back. */
const RECHECK_EVERY_MS = 10_000;

interface Entry {
  key: string;
  layer: BackgroundLayer;
  state: BackgroundState;
  /** Not before this time (start delay, retry backoff). */
  readyAt: number;
  failures: number;
  /** Stopped for good (cap); no retry. */
  stopped: boolean;
  timer: NodeJS.Timeout | undefined;
  abort: AbortController;
}

export class BackgroundFetcher {
  readonly #entries = new Map<string, Entry>();
  readonly #log: Logger;
  readonly #batchBytes: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  #running = 0;
  #quietUntil = 0;
  #closed = false;
  #recheck: NodeJS.Timeout | undefined;

  constructor(private readonly o: BackgroundFetcherOptions) {
    checkPace(o);
    this.#batchBytes = int('batchBytes', o.batchBytes ?? 16 * 1024 * 1024, 1);
    this.#retryBaseMs = int('retryBaseMs', o.retryBaseMs ?? 5_000, 1);
    this.#retryMaxMs = int('retryMaxMs', o.retryMaxMs ?? 300_000, this.#retryBaseMs);
    this.#log = o.log.child({ component: 'background-fetch' });
  }

  /**
   * New pace (a live configuration change): more concurrency starts waiting layers now; a
   * new `startDelayMs` applies to layers added from now on.
   */
  configure(pace: Pick<BackgroundFetcherOptions, 'concurrency' | 'quietMs' | 'startDelayMs'>): void {
    checkPace(pace);
    this.o.concurrency = pace.concurrency;
    this.o.quietMs = pace.quietMs;
    this.o.startDelayMs = pace.startDelayMs;
    this.#pump();
  }

  /** Start fetching `layer` whole after `startDelayMs`; a key added again replaces its layer. */
  add(key: string, layer: BackgroundLayer): void {
    if (this.#closed) throw new InvalidArgumentError('background fetch: closed');
    if (typeof key !== 'string' || key === '') throw new InvalidArgumentError('background fetch: key must be a non-empty string');
    this.remove(key);
    const entry: Entry = {
      key,
      layer,
      state: 'waiting',
      readyAt: Date.now() + this.o.startDelayMs,
      failures: 0,
      stopped: false,
      timer: undefined,
      abort: new AbortController(),
    };
    this.#entries.set(key, entry);
    this.#wakeAt(entry);
  }

  /** Stop fetching `key` (its request in flight is aborted); unknown keys are fine. */
  remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    clearTimeout(entry.timer);
    entry.abort.abort(new Error(`background fetch of ${entry.layer.blob.digest} stopped: layer removed`));
  }

  /** A foreground read went to the registry: hold background requests back for `quietMs`. */
  noteForeground(): void {
    this.#quietUntil = Math.max(this.#quietUntil, Date.now() + this.o.quietMs);
  }

  progress(key: string): BackgroundProgress | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const p = entry.layer.progress();
    if (entry.state === 'complete' && p.fetchedBytes < p.totalBytes) this.#evictedAfterComplete(entry);
    return { state: entry.state, ...p };
  }

  /** Stop everything: no new request, every one in flight aborted. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#recheck);
    for (const key of [...this.#entries.keys()]) this.remove(key);
  }

  #wakeAt(entry: Entry): void {
    clearTimeout(entry.timer);
    const wait = entry.readyAt - Date.now();
    entry.timer = setTimeout(() => this.#pump(), Math.max(0, wait));
    entry.timer.unref();
  }

  #pump(): void {
    if (this.#closed) return;
    const now = Date.now();
    for (const entry of this.#entries.values()) {
      if (this.#running >= this.o.concurrency) return;
      if (entry.stopped || (entry.state !== 'waiting' && entry.state !== 'failed')) continue;
      if (entry.readyAt > now) {
        // Not yet (a timer may fire a little before Date.now() says it is time): wake up again then.
        this.#wakeAt(entry);
        continue;
      }
      this.#running++;
      void this.#run(entry).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  async #run(entry: Entry): Promise<void> {
    const { layer } = entry;
    const blob = layer.blob.digest;
    const signal = entry.abort.signal;
    entry.state = 'running';
    try {
      const start = layer.progress();
      const cap = layer.cacheLimitBytes;
      if (cap > 0 && start.totalBytes > cap) {
        this.#stop(entry, { totalBytes: start.totalBytes, diskLimitBytes: cap }, 'layer is larger than the chunk cache cap: it cannot be cached whole; background fetch stopped');
        return;
      }
      const missing = layer.missingChunks();
      const missingBytes = missing.reduce((n, w) => n + w.chunk.chunkSize, 0);
      if (missing.length > 0) {
        this.#log.info({ layer: blob, totalBytes: start.totalBytes, fetchedBytes: start.fetchedBytes, missingBytes }, 'background fetch started');
      }
      let done = 0;
      let lastLog = Date.now();
      let lastPercent = percent(start.fetchedBytes, start.totalBytes);
      for (const batch of batches(missing, this.#batchBytes)) {
        await this.#quiet(entry);
        await layer.fetchIntoCache(batch, signal);
        done += batch.reduce((n, w) => n + w.chunk.chunkSize, 0);
        const pct = percent(start.fetchedBytes + done, start.totalBytes);
        if (pct >= lastPercent + 10 || Date.now() - lastLog >= PROGRESS_EVERY_MS) {
          lastLog = Date.now();
          lastPercent = pct;
          this.#log.info({ layer: blob, percent: pct, fetchedBytes: start.fetchedBytes + done, totalBytes: start.totalBytes }, 'background fetch progress');
        }
      }
      const end = layer.progress();
      if (end.fetchedBytes < end.totalBytes) {
        this.#stop(
          entry,
          { fetchedBytes: end.fetchedBytes, totalBytes: end.totalBytes, diskLimitBytes: cap },
          'the chunk cache cap evicted parts of the layer while it was fetched: background fetch stopped (it would only push other data out)',
        );
        return;
      }
      entry.state = 'complete';
      entry.failures = 0;
      this.#log.info({ layer: blob, percent: 100, totalBytes: end.totalBytes, fetchedNow: done }, 'background fetch complete: the layer no longer needs its registry');
      this.#startRecheck();
    } catch (err) {
      if (signal.aborted || this.#closed) return;
      entry.failures++;
      const delayMs = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (entry.failures - 1));
      entry.state = 'failed';
      entry.readyAt = Date.now() + delayMs;
      this.#log.warn({ layer: blob, err, failures: entry.failures, retryInMs: delayMs }, 'background fetch failed; retrying later');
      this.#wakeAt(entry);
    }
  }

  /** Wait while foreground reads are recent; the layer is `paused` meanwhile. */
  async #quiet(entry: Entry): Promise<void> {
    while (Date.now() < this.#quietUntil) {
      entry.state = 'paused';
      await sleep(this.#quietUntil - Date.now(), entry.abort.signal);
    }
    entry.abort.signal.throwIfAborted();
    entry.state = 'running';
  }

  #stop(entry: Entry, fields: Record<string, unknown>, msg: string): void {
    entry.state = 'failed';
    entry.stopped = true;
    this.#log.warn({ layer: entry.layer.blob.digest, ...fields }, msg);
  }

  #evictedAfterComplete(entry: Entry): void {
    // The layer itself warns (once) that it needs the registry again; refetching it would thrash.
    this.#stop(entry, {}, 'the chunk cache cap evicted parts of a fully fetched layer; not fetching it again');
  }

  /** Layers that completed are looked at now and then, so that a cap eviction is reported when it happens. */
  #startRecheck(): void {
    if (this.#recheck) return;
    this.#recheck = setInterval(() => {
      let any = false;
      for (const entry of this.#entries.values()) {
        if (entry.state !== 'complete') continue;
        any = true;
        this.progress(entry.key);
      }
      if (!any) {
        clearInterval(this.#recheck);
        this.#recheck = undefined;
      }
    }, RECHECK_EVERY_MS);
    this.#recheck.unref();
  }
}

function int(name: string, v: unknown, min: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) {
    throw new InvalidArgumentError(`background fetch: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v as number;
}

function checkPace(o: Pick<BackgroundFetcherOptions, 'concurrency' | 'quietMs' | 'startDelayMs'>): void {
  int('concurrency', o.concurrency, 1);
  int('quietMs', o.quietMs, 0);
  int('startDelayMs', o.startDelayMs, 0);
}
