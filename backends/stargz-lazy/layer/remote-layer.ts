/**
 * One eStargz (or legacy stargz, or zstd:chunked) layer read lazily from its registry: the index (from the TOC, fetched and
 * verified at `open`) answers every metadata question; `read` returns file bytes, taking
 * chunks from the shared ChunkCache and fetching the missing ones (one request per read, one
 * fetch per chunk however many reads want it), verified before anything is served or cached.
 * A read that fetches a small gzip member fetches the other members of its aligned region of
 * the blob in the same request and caches them (`region-neighbours.ts`), so a walk of small
 * files costs a request per region, not per file.
 *
 * Inflation goes through the process's inflation budget (`inflation-budget.ts`; container
 * reads first): a member's chunks are cached and handed to the reads that wait for them as soon
 * as it is verified, and prefetch and background fetch keep none of them, so what a batch
 * holds at once is bounded by the budget, not by the batch.
 *
 * How much of the layer is cached (`progress`) is asked of the cache's index; a layer seen fully
 * cached that later has to go to the registry again (the cache cap evicted some of it) says so
 * once, as a warning naming the layer: data a layer needs is never dropped silently.
 *
 * Errors of `read`: VerificationError (the registry or a proxy served bad bytes; nothing was
 * cached, a later read fetches again), UnavailableError (the registry failed), the abort
 * reason of the caller's signal, InvalidArgumentError for a bad node or range.
 */
import { InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import type { Footer, LayerFormat } from '../estargz/footer.js';
import type { LayerIndex } from '../estargz/layer-index.js';
import type { ChunkRef, LayerNode } from '../estargz/layer-node.js';
import { resolveLimits, type EstargzLimits } from '../estargz/limits.js';
import { openLayer } from '../estargz/open-layer.js';
import type { TocIndexer } from '../estargz/toc-indexer.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import type { CompleteFile } from '../cache/complete-files.js';
import { ChunkLoader } from './chunk-loader.js';
import { registryFailure, type LayerBlobReader } from './fetch-chunks.js';
import { InflationBudget, type LayerInflation } from './inflation-budget.js';
import { runPrefetch, type PrefetchOptions, type PrefetchResult } from './prefetch.js';
import { MAX_REGION_BYTES, REGION_BYTES } from './region-neighbours.js';
import { tailReader } from './tail-reader.js';
import type { WantedChunk } from './wanted-chunk.js';

export type { LayerBlobReader } from './fetch-chunks.js';

export interface RemoteLayerOptions {
  blob: LayerBlobReader;
  /** The layer's `containerd.io/snapshot/stargz/toc.digest`: the TOC must match it. */
  expectedTocDigest?: string | undefined;
  cache: ChunkCache;
  limits?: Partial<EstargzLimits> | undefined;
  /** Where the TOC is indexed (default: this thread). */
  indexer?: TocIndexer | undefined;
  log: Logger;
  /** Aborts the footer and TOC fetches and the TOC's indexing. */
  signal?: AbortSignal | undefined;
  /** Called each time a read (or its read-ahead) has to fetch from the registry; prefetch and background fetch do not count. */
  onRegistryFetch?: (() => void) | undefined;
  /**
   * Size of the aligned regions of the blob whose small members a read fetches together
   * (`region-neighbours.ts`); 0: a read fetches only its own chunks. Default REGION_BYTES.
   */
  regionBytes?: number | undefined;
  /**
   * The process's inflation budget, shared by every layer it opens (fused makes one from its
   * `estargz` limits). Default: one of the layer's own, from `limits`.
   */
  inflation?: InflationBudget | undefined;
}

/**
 * How much of a blob's end `open` fetches at once: the footer, and the TOC of a layer of up to
 * ~1,000 files (~50 compressed bytes per entry). A larger TOC costs one more request for
 * exactly the part the tail missed (the footer says where the TOC starts), so the registry
 * never sends bytes of the file data just to save that request (see docs/benchmarks.md,
 * "zstd:chunked (issue 16)", for the measured trade).
 */
export const OPEN_TAIL_BYTES = 64 * 1024;
/**
 * Chunks this large or larger that are on disk but not in memory are read by range (upstream
 * writers chunk at 4 MiB, which keep the whole-chunk path; a hostile or unusual layer's 64 MiB
 * chunks would otherwise cost 64 MiB of I/O and memory per 128 KiB FUSE read).
 */
const RANGE_READ_MIN_CHUNK_BYTES = 8 * 1024 * 1024;

export class RemoteLayer {
  readonly #loader: ChunkLoader;

  private constructor(
    readonly blob: LayerBlobReader,
    readonly index: LayerIndex,
    readonly footer: Footer,
    /** Digest of the TOC JSON (the `toc.digest` annotation). */
    readonly tocDigest: string,
    /** Size of the blob in bytes. */
    readonly blobSize: number,
    private readonly cache: ChunkCache,
    limits: EstargzLimits,
    private readonly log: Logger,
    onRegistryFetch: (() => void) | undefined,
    regionBytes: number,
    inflation: LayerInflation,
  ) {
    this.#loader = new ChunkLoader({ blob, index, cache, limits, log, onRegistryFetch, regionBytes, inflation, format: footer.format });
  }

  /**
   * Fetch the size, footer and TOC (one suffix-range read of the tail; one more range read when
   * the TOC does not fit in it), verify and index it. NotEstargzError: an ordinary layer; MalformedEstargzError / EstargzLimitError:
   * a broken or oversized one; VerificationError: the TOC does not match `expectedTocDigest`;
   * UnavailableError: the registry failed.
   */
  static async open(o: RemoteLayerOptions): Promise<RemoteLayer> {
    const limits = resolveLimits(o.limits);
    const regionBytes = o.regionBytes ?? REGION_BYTES;
    if (!Number.isSafeInteger(regionBytes) || regionBytes < 0 || regionBytes > MAX_REGION_BYTES) {
      throw new InvalidArgumentError(`regionBytes must be an integer from 0 to ${MAX_REGION_BYTES}, got ${o.regionBytes}`);
    }
    const { blob, signal } = o;
    // Size, footer and (for most layers) the whole TOC in one request: the blob's tail.
    let tail: { size: number; data: Buffer };
    try {
      tail = blob.readTail ? await blob.readTail(OPEN_TAIL_BYTES, signal) : { size: await blob.size(signal), data: Buffer.alloc(0) };
    } catch (err) {
      throw registryFailure(blob.digest, err, signal);
    }
    const { size } = tail;
    const reader = tailReader(blob, tail, signal);
    const opened = await openLayer(reader, { expectedTocDigest: o.expectedTocDigest, limits, indexer: o.indexer, signal });
    const log = o.log;
    log.debug(
      { blob: blob.digest, format: opened.footer.format, tocDigest: opened.tocDigest, nodes: opened.index.size, prefetch: opened.index.prefetch.landmark },
      'lazy layer opened',
    );
    const inflation = (o.inflation ?? new InflationBudget(limits)).forLayer(blob.digest);
    return new RemoteLayer(blob, opened.index, opened.footer, opened.tocDigest, size, o.cache, limits, log, o.onRegistryFetch, regionBytes, inflation);
  }

  /** The layer's format (its footer's). */
  get format(): LayerFormat {
    return this.footer.format;
  }

  /**
   * Bytes [offset, offset + length) of regular file `node` (a node of this layer's index; a
   * hard link's name resolves to its target node there), clamped at the end of the file.
   * The buffer is the caller's own.
   */
  async read(node: LayerNode, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.index.byIno(node.ino) !== node) {
      throw new InvalidArgumentError(`read: ${JSON.stringify(node.path)} is not a node of layer ${this.blob.digest}`);
    }
    const chunks = this.index.chunksFor(node, offset, length); // checks type and range
    const end = Math.min(node.size, offset + length);
    if (chunks.length === 0) return Buffer.alloc(0);
    this.#readAhead(node, chunks[chunks.length - 1]!, end);
    const out = Buffer.allocUnsafe(end - offset);
    const span = (c: ChunkRef) => ({ from: Math.max(offset, c.chunkOffset), to: Math.min(end, c.chunkOffset + c.chunkSize) });
    // Large chunks on disk but not in memory: only the bytes asked for (a 128 KiB read of a
    // 64 MiB chunk must not load 64 MiB, nor push every other chunk out of the memory LRU).
    // The usual read (upstream's 4 MiB chunks) costs no promise and no array here.
    const byRange = (c: ChunkRef) => c.chunkSize >= RANGE_READ_MIN_CHUNK_BYTES && !this.cache.holds(c.chunkDigest) && this.cache.has(c.chunkDigest);
    const ranged = !chunks.some(byRange)
      ? []
      : await Promise.all(
          chunks.map((c) => {
            if (!byRange(c)) return undefined;
            const { from, to } = span(c);
            return this.cache.readRange(c.chunkDigest, from - c.chunkOffset, to - from, c.chunkSize);
          }),
        );
    const rest = ranged.length === 0 ? chunks : chunks.filter((_, i) => ranged[i] === undefined);
    const data = rest.length === 0 ? new Map<string, Buffer>() : await this.#loader.chunks(rest.map((chunk) => ({ chunk, path: node.path })), signal, 'read');
    chunks.forEach((c, i) => {
      const { from, to } = span(c);
      const piece = ranged[i];
      if (piece !== undefined) piece.copy(out, from - offset);
      else data.get(c.chunkDigest)!.copy(out, from - offset, from - c.chunkOffset, to - c.chunkOffset);
    });
    if (end === node.size) this.cache.files.want(node); // a reader reached its end: it may be complete now
    return out;
  }

  /**
   * Copies bytes [offset, offset + length) of regular file `node` (clamped at its end) into
   * `target` when every chunk they need is in the memory cache, and answers how many; answers
   * undefined (copying nothing) otherwise, and `read` is then the way. No promise, no copy but
   * the one into `target`: this is the path of warm reads.
   */
  readCached(node: LayerNode, offset: number, length: number, target: Buffer): number | undefined {
    if (this.index.byIno(node.ino) !== node) return undefined;
    const chunks = this.index.chunksFor(node, offset, length);
    const end = Math.min(node.size, offset + length);
    if (chunks.length === 0) return 0;
    const held: Buffer[] = [];
    for (const c of chunks) {
      const bytes = this.cache.peek(c.chunkDigest);
      // A held chunk of another size would mean the TOC lies about it: let `read` say so.
      if (bytes === undefined || bytes.length !== c.chunkSize) return undefined;
      held.push(bytes);
    }
    chunks.forEach((c, i) => {
      const from = Math.max(offset, c.chunkOffset);
      const to = Math.min(end, c.chunkOffset + c.chunkSize);
      held[i]!.copy(target, from - offset, from - c.chunkOffset, to - c.chunkOffset);
    });
    this.#readAhead(node, chunks[chunks.length - 1]!, end);
    // A sequential reader's last chunk was usually read ahead into memory, so its end is here.
    if (end === node.size) this.cache.files.want(node);
    return end - offset;
  }

  /**
   * A read that reached the second half of a chunk makes the file's next chunk come into memory
   * in the background (from the disk cache, else the registry), so a sequential reader does not
   * wait for it chunk after chunk. One chunk ahead per read, one fetch per chunk (in flight).
   */
  #readAhead(node: LayerNode, last: ChunkRef, end: number): void {
    if (end < last.chunkOffset + last.chunkSize / 2 || last.chunkOffset + last.chunkSize >= node.size) return;
    const i = node.chunks.indexOf(last);
    const next = i < 0 ? undefined : node.chunks[i + 1];
    if (next === undefined || this.#loader.inFlight(next.chunkDigest) || this.cache.holds(next.chunkDigest)) return;
    // A large chunk already on disk is read by range when asked; loading it whole ahead would not help.
    if (next.chunkSize >= RANGE_READ_MIN_CHUNK_BYTES && this.cache.has(next.chunkDigest)) return;
    this.#loader.chunks([{ chunk: next, path: node.path }], undefined, 'read').catch((err: unknown) =>
      this.log.debug({ err, blob: this.blob.digest, path: node.path }, 'read-ahead of the next chunk failed; a read will fetch it'),
    );
  }

  /**
   * Fetch the prioritized files (those before `.prefetch.landmark`) into the cache, in large
   * coalesced range requests, at most `maxBytes` compressed bytes, for at most `timeoutMs`.
   * Stopping at a bound, or on a registry failure, is not an error: `complete` is false and
   * the log says why. Only the caller's `signal` makes it throw (its reason).
   */
  prefetch(o: PrefetchOptions): Promise<PrefetchResult> {
    const done = runPrefetch(
      {
        index: this.index,
        cache: this.cache,
        log: this.log,
        blobDigest: this.blob.digest,
        fetch: (wanted, signal) => this.#loader.chunks(wanted, signal, 'prefetch', false),
      },
      o,
    );
    // The files it brought in whole become complete files in the background.
    return done.finally(() => this.cache.files.sweep(this.index));
  }

  /** A mount that passes complete files through is served: from now on they are worth their disk. */
  wantCompleteFiles(): void {
    this.cache.files.enable();
  }

  /** `node`'s complete file (`complete-files.ts`; passthrough), else undefined and wanted for a later open. No I/O. */
  completeFile(node: LayerNode): CompleteFile | undefined {
    if (this.index.byIno(node.ino) !== node) return undefined;
    const file = this.cache.files.completeFile(node);
    if (file === undefined) this.cache.files.want(node);
    return file;
  }

  /**
   * Uncompressed bytes of the layer's chunks (each distinct chunk once) that the cache holds,
   * and of all of them. O(chunks), no I/O.
   */
  progress(): { fetchedBytes: number; totalBytes: number } {
    const { length, digests, sizes, totalBytes } = this.index.chunkList();
    let fetchedBytes = 0;
    for (let i = 0; i < length; i++) if (this.cache.has(digests[i]!)) fetchedBytes += sizes[i]!;
    if (fetchedBytes === totalBytes) {
      if (this.#loader.seenComplete()) this.cache.files.sweep(this.index); // newly whole: its files too
    } else this.#loader.seenIncomplete();
    return { fetchedBytes, totalBytes };
  }

  /** The chunks the cache does not hold, each once, in blob order (for fetching the whole layer). */
  missingChunks(): WantedChunk[] {
    const list = this.index.chunkList();
    const out: WantedChunk[] = [];
    for (let i = 0; i < list.length; i++) {
      if (!this.cache.has(list.digests[i]!)) out.push({ chunk: list.chunk(i), path: list.path(i) });
    }
    return out;
  }

  /**
   * Fetch those of `wanted` the cache does not hold into it (joining fetches in flight),
   * verified as every read is; not a foreground read. Rejects like `read`.
   */
  async fetchIntoCache(wanted: readonly WantedChunk[], signal?: AbortSignal): Promise<void> {
    const todo = wanted.filter((w) => !this.cache.has(w.chunk.chunkDigest));
    if (todo.length > 0) await this.#loader.chunks(todo, signal, 'background', false);
  }

  /** The cap of the chunk cache's disk in bytes (0: none). */
  get cacheLimitBytes(): number {
    return this.cache.stats().diskLimitBytes;
  }
}
