/**
 * The verified bytes of a layer's chunks, as `RemoteLayer` reads, prefetches and fetches them
 * in the background: one flight per chunk (a chunk in flight is joined, never fetched twice),
 * taken from the chunk cache when it holds it, else fetched from the registry with its region's
 * neighbours (for reads) and the chunks sharing its gzip member, within the layer's inflation
 * budget, and put in the cache. Also keeps whether the layer was seen fully cached, to say
 * once when it is not any more.
 */
import type { Logger } from '../../../core/sdk.js';
import type { LayerIndex } from '../estargz/layer-index.js';
import type { LayerFormat } from '../estargz/footer.js';
import type { EstargzLimits } from '../estargz/limits.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import { fetchChunks, type LayerBlobReader, type MemberResults } from './fetch-chunks.js';
import { abortable, InFlight, ownerAborted } from './in-flight.js';
import type { LayerInflation } from './inflation-budget.js';
import { RegionNeighbours } from './region-neighbours.js';
import { SharedMembers } from './shared-members.js';
import type { WantedChunk } from './wanted-chunk.js';

/**
 * Why chunks are fetched: a container's read (or its read-ahead; it calls `onRegistryFetch`),
 * prefetch at mount, or background fetch (it does not push chunks through the memory cache,
 * which belongs to what containers read now).
 */
export type FetchKind = 'read' | 'prefetch' | 'background';

export interface ChunkLoaderOptions {
  blob: LayerBlobReader;
  index: LayerIndex;
  cache: ChunkCache;
  limits: EstargzLimits;
  log: Logger;
  onRegistryFetch: (() => void) | undefined;
  regionBytes: number;
  inflation: LayerInflation;
  /** How the layer's members are compressed (the footer's format). */
  format?: LayerFormat | undefined;
}

export class ChunkLoader {
  private readonly blob: LayerBlobReader;
  private readonly cache: ChunkCache;
  private readonly limits: EstargzLimits;
  private readonly log: Logger;
  private readonly onRegistryFetch: (() => void) | undefined;
  private readonly inflation: LayerInflation;
  private readonly format: LayerFormat | undefined;
  readonly #flights = new InFlight();
  /**
   * Chunks in flight that a container read waits for, and how to promote the member of each to
   * the foreground lane of the inflation budget (a read that joins a prefetch, background or
   * neighbour fetch must not wait behind background work).
   */
  readonly #readWaits = new Set<string>();
  readonly #promoters = new Map<string, () => void>();
  readonly #shared: SharedMembers;
  readonly #neighbours: RegionNeighbours;
  /** Seen fully cached; cleared (with one warning) when that stops being so. */
  #complete = false;
  #evictionWarned = false;

  constructor(o: ChunkLoaderOptions) {
    this.blob = o.blob;
    this.cache = o.cache;
    this.limits = o.limits;
    this.log = o.log;
    this.onRegistryFetch = o.onRegistryFetch;
    this.inflation = o.inflation;
    this.format = o.format;
    this.#shared = SharedMembers.of(o.index);
    this.#neighbours = new RegionNeighbours(o.index, o.regionBytes);
  }

  /** The fetch of chunk `digest` in flight, if any. */
  inFlight(digest: string): ReturnType<InFlight['get']> {
    return this.#flights.get(digest);
  }

  /** `progress` found every chunk of the layer cached; true when it was not seen so before. */
  seenComplete(): boolean {
    const newly = !this.#complete;
    this.#complete = true;
    return newly;
  }

  /** `progress` found chunks missing: a layer seen complete before lost some. */
  seenIncomplete(): void {
    if (this.#complete) this.#lostChunks();
  }

  #noteRegistryFetch(): void {
    try {
      this.onRegistryFetch?.();
    } catch (err) {
      this.log.warn({ err, layer: this.blob.digest }, 'onRegistryFetch hook failed');
    }
  }

  /** A layer seen fully cached is not anymore: once per layer, say that it needs the registry again. */
  #lostChunks(): void {
    this.#complete = false;
    if (this.#evictionWarned) return;
    this.#evictionWarned = true;
    this.log.warn(
      { layer: this.blob.digest, diskLimitBytes: this.cache.stats().diskLimitBytes },
      'layer was fully cached, but some of its chunks left the chunk cache (evicted by the cache cap, or found corrupt): it needs the registry again',
    );
  }

  /**
   * The members next to the small ones a read fetches (same aligned region of the blob; see
   * `region-neighbours.ts`) that are neither cached nor being fetched: fetched, verified and
   * cached with the read's own, never returned as its data. One that fails verification is
   * only not cached (and logged); the read fails only for its own chunks.
   */
  #neighboursOf(missing: readonly WantedChunk[]): WantedChunk[] {
    return this.#neighbours.around(missing, (digest) => this.cache.has(digest) || this.#flights.get(digest) !== undefined);
  }

  /**
   * Verified bytes of each wanted chunk, by digest: joining fetches in flight, starting one for
   * the rest. `keep` false (prefetch, background fetch): the chunks only go to the cache, the
   * answer is empty and holds no chunk while the others of the batch are fetched.
   */
  async chunks(wanted: readonly WantedChunk[], signal: AbortSignal | undefined, kind: FetchKind, keep = true): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    let todo = uniqueByDigest(wanted);
    while (todo.length > 0) {
      // Only the owner's signal of a joined fetch is kept, not the fetch (its promise holds the chunk).
      const joined: { w: WantedChunk; owner: AbortSignal | undefined; done: Promise<Buffer | undefined> }[] = [];
      const mine: WantedChunk[] = [];
      for (const w of todo) {
        const flight = this.#flights.get(w.chunk.chunkDigest);
        if (flight) {
          if (kind === 'read') this.#readWaitsFor(w.chunk.chunkDigest, flight.promise);
          joined.push({ w, owner: flight.signal, done: keep ? flight.promise : flight.promise.then(drop) });
        } else mine.push(w);
      }
      if (mine.length > 0) {
        const started = this.#load(mine, signal, kind);
        for (const w of mine) {
          const one = started.get(w.chunk.chunkDigest)!;
          joined.push({ w, owner: signal, done: keep ? one : one.then(drop) });
        }
        started.clear(); // it would hold every chunk of the batch until the batch ends
      }
      // One abort listener for the whole batch (one per chunk put 40 on a read's signal at once).
      const settled = await abortable(Promise.allSettled(joined.map((j) => j.done)), signal);
      todo = [];
      let failure: unknown;
      settled.forEach((r, i) => {
        const { w, owner } = joined[i]!;
        if (r.status === 'fulfilled') {
          if (r.value !== undefined) out.set(w.chunk.chunkDigest, r.value);
        } else if (ownerAborted({ signal: owner }, signal)) todo.push(w);
        else failure ??= r.reason;
      });
      if (failure !== undefined) throw failure;
    }
    return out;
  }

  /**
   * Start getting `wanted` (none cached in memory or in flight): one flight per chunk,
   * registered now, settled as soon as its chunk is read from the cache or its gzip member is
   * fetched and verified. The flights of wanted chunks by digest.
   */
  #load(wanted: WantedChunk[], signal: AbortSignal | undefined, kind: FetchKind): Map<string, Promise<Buffer>> {
    const pending = new Map<string, Deferred>();
    const started = new Map<string, Promise<Buffer>>();
    const begin = (w: WantedChunk) => {
      const d = deferred();
      pending.set(w.chunk.chunkDigest, d);
      this.#flights.start(w.chunk.chunkDigest, d.promise, signal);
      return d.promise;
    };
    for (const w of wanted) started.set(w.chunk.chunkDigest, begin(w));
    const settle = (digest: string, result: Buffer | Error) => {
      const d = pending.get(digest);
      if (!d) return;
      pending.delete(digest);
      this.#readWaits.delete(digest);
      this.#promoters.delete(digest);
      if (result instanceof Error) d.reject(result);
      else d.resolve(result);
    };
    void (async () => {
      const cached = await Promise.all(wanted.map((w) => this.cache.get(w.chunk.chunkDigest)));
      const missing: WantedChunk[] = [];
      wanted.forEach((w, i) => {
        const data = cached[i];
        // A cached chunk of another size would mean the TOC lies about it: fetch and let verification say so.
        if (data !== undefined && data.length === w.chunk.chunkSize) settle(w.chunk.chunkDigest, data);
        else missing.push(w);
      });
      if (missing.length === 0) return;
      if (this.#complete) this.#lostChunks();
      if (kind === 'read') this.#noteRegistryFetch();
      const extra = kind === 'read' ? this.#neighboursOf(missing) : [];
      // Reads of a neighbour that start meanwhile join this fetch instead of sending their own.
      for (const w of extra) void begin(w);
      // Neighbours are inflated as background work: no other read waits behind them.
      const neighbours = new Set(extra.map((w) => w.chunk.offset));
      await fetchChunks(this.blob, extra.length > 0 ? [...missing, ...extra] : missing, {
        limits: this.limits,
        format: this.format,
        inflation: this.inflation,
        lane: (group) =>
          (kind === 'read' && !neighbours.has(group[0]!.chunk.offset)) || group.some((w) => this.#readWaits.has(w.chunk.chunkDigest)) ? 'foreground' : 'background',
        onQueued: (group, priority) => {
          if (priority.lane === 'foreground') return;
          const promote = () => priority.promote();
          for (const w of group) if (pending.has(w.chunk.chunkDigest)) this.#promoters.set(w.chunk.chunkDigest, promote);
        },
        deliver: (results) => this.#deliver(results, kind, settle),
        signal,
        shared: this.#shared,
      });
    })()
      .catch((err: unknown) => {
        for (const digest of [...pending.keys()]) settle(digest, err as Error);
      })
      .finally(() => {
        for (const digest of [...pending.keys()]) settle(digest, new Error(`internal: chunk ${digest} missing from its fetch`));
      });
    return started;
  }

  /** A container read waits for chunk `digest`, in flight (`flight`): its member goes in the foreground lane. */
  #readWaitsFor(digest: string, flight: Promise<Buffer>): void {
    if (this.#readWaits.has(digest)) return;
    this.#readWaits.add(digest);
    this.#promoters.get(digest)?.();
    // Also when the flight settled just before the read joined it (nothing would clear it then).
    const clear = () => this.#readWaits.delete(digest);
    flight.then(clear, clear);
  }

  /**
   * A fetched member's chunks: each verified one is handed to its flight and put in the cache,
   * each bad one fails its flight (and is logged). Settles once the cache has them (until then
   * the member's bytes stay charged to the inflation budget).
   */
  #deliver(results: MemberResults, kind: FetchKind, settle: (digest: string, result: Buffer | Error) => void): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [w, result] of results) {
      const digest = w.chunk.chunkDigest;
      settle(digest, result);
      if (result instanceof Error) {
        this.log.warn({ blob: this.blob.digest, path: w.path.slice(0, 200), err: result }, 'chunk failed verification; not served, not cached');
        continue;
      }
      writes.push(
        this.cache.put(digest, result, { memory: kind !== 'background' }).catch((err: unknown) => this.log.warn({ err }, 'chunk cache: write failed; the chunk will be fetched again')),
      );
    }
    return Promise.all(writes).then(() => undefined);
  }
}

interface Deferred {
  promise: Promise<Buffer>;
  resolve(value: Buffer): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: (value: Buffer) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<Buffer>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function drop(): undefined {
  return undefined;
}

function uniqueByDigest(wanted: readonly WantedChunk[]): WantedChunk[] {
  const seen = new Set<string>();
  return wanted.filter((w) => !seen.has(w.chunk.chunkDigest) && seen.add(w.chunk.chunkDigest));
}
