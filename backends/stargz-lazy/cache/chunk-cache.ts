/**
 * Verified, uncompressed chunk data keyed by `chunkDigest`, shared by every layer (the same
 * chunk in two images is fetched once) and kept across restarts on disk, with a small memory
 * LRU in front.
 *
 * Only data that has been verified against its digest may be `put` (the remote layer verifies
 * before it puts). Data read back from disk is verified again before it is returned: a bit
 * flip, a truncated file or a file someone replaced is deleted and reported as a miss, so the
 * chunk is fetched again instead of being served wrong. A file is hashed once per process: its
 * identity (inode, size, ctime, mtime) is remembered, and the same file read again (after the
 * memory LRU dropped it) is trusted; a file this process wrote (verified data) is trusted the
 * same way from its write on; any write to it changes its ctime and makes it checked again. Buffers returned are shared with the cache: callers copy, never write into them.
 *
 * The disk is capped (`diskBytes`, `disk-cap.ts`): least recently used chunks are removed after
 * a put crosses the cap (and at open, when the directory is over it already); a hit, from
 * memory or disk, makes a chunk the most recently used. A chunk being read from disk or
 * written is never removed. `has` answers from the index, without I/O, and so do `get` and
 * `readRange` of a chunk it does not hold (a cold fetch asks for every chunk first: no failed
 * open each). The index is what is on disk: one process per cache directory (generation.ts)
 * writes and removes its files, and scanned it at open; a file put there from outside since
 * is a miss, which costs one refetch, whose put replaces it whole.
 */
import { InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import { digestOf } from '../estargz/digest.js';
import type { ChunkCacheStats } from './chunk-cache-stats.js';
import { checkCacheOptions, type ChunkCacheOptions } from './chunk-cache-options.js';
import { chunkPath } from './chunk-path.js';
import { CompleteFiles } from './complete-files.js';
import { DiskCap } from './disk-cap.js';
import { DiskStore } from './disk-store.js';
import { MemoryLru } from './memory-lru.js';
import { ReadPins } from './read-pins.js';
import { VerifiedFiles } from './verified-files.js';

export type { ChunkCacheOptions } from './chunk-cache-options.js';

export class ChunkCache {
  readonly #memory: MemoryLru;
  /** Data being written to disk, served from here meanwhile. */
  readonly #writing = new Map<string, { data: Buffer; done: Promise<void> }>();
  readonly #verified = new VerifiedFiles();
  readonly #stats = { memoryHits: 0, diskHits: 0, misses: 0, corrupt: 0, writes: 0, writeErrors: 0 };
  /** Chunks whose disk file is being read: the cap never removes those. */
  readonly #reading = new ReadPins();
  readonly #cap: DiskCap;
  /** Whole files whose every chunk is here, as single backing files (kernel passthrough). */
  files!: CompleteFiles;

  private constructor(
    private readonly disk: DiskStore,
    memoryBytes: number,
    diskBytes: number,
    private readonly maxChunkBytes: number,
    private readonly log: Logger,
  ) {
    this.#memory = new MemoryLru(memoryBytes);
    this.#cap = new DiskCap({
      store: disk,
      limitBytes: diskBytes,
      isPinned: (digest) => this.#reading.has(digest) || this.#writing.has(digest),
      onEvicted: (digest) => {
        this.#memory.delete(digest);
        this.#verified.forget(digest);
      },
      log,
    });
  }

  /** Open (creating it if needed) the cache in `dir`. */
  static async open(dir: string, opts: ChunkCacheOptions): Promise<ChunkCache> {
    const { maxChunkBytes, diskBytes } = checkCacheOptions(dir, opts);
    const log = opts.log.child({ component: 'chunk-cache' });
    const disk = await DiskStore.open(dir, log);
    const cache = new ChunkCache(disk, opts.memoryBytes, diskBytes, maxChunkBytes, log);
    cache.files = new CompleteFiles({ store: disk, chunks: cache, enforceCap: () => cache.#cap.enforce(), log: log.child({ component: 'complete-files' }), ...opts.files });
    const found = { chunks: disk.index.size, bytes: disk.index.bytes };
    if (cache.#cap.over()) {
      await cache.#cap.enforce();
      log.info({ ...found, diskBytes: disk.index.bytes, diskLimitBytes: diskBytes }, 'chunk cache: over its cap at open; trimmed');
    } else {
      log.info({ ...found, diskLimitBytes: diskBytes }, 'chunk cache opened');
    }
    return cache;
  }

  /** Directory of the cache. */
  get dir(): string {
    return this.disk.root;
  }

  /** The verified data of `digest`, or undefined (never data that does not match). */
  async get(digest: string): Promise<Buffer | undefined> {
    const { algorithm, file } = chunkPath(digest);
    const held = this.#memory.get(digest) ?? this.#writing.get(digest)?.data;
    if (held !== undefined) {
      this.#stats.memoryHits++;
      this.disk.index.touch(digest);
      return held;
    }
    if (this.#absent(digest)) return undefined;
    return this.#reading.run(digest, () => this.#fromDisk(digest, file, algorithm));
  }

  /** A chunk the index does not hold: a miss, counted, without I/O (see the header). */
  #absent(digest: string): boolean {
    return !this.disk.index.has(digest) && ++this.#stats.misses > 0;
  }

  /** A cached file that is not what its digest says: removed, counted, logged; a miss. */
  async #discard(digest: string, file: string, problem: string | undefined): Promise<undefined> {
    this.#stats.corrupt++;
    this.#stats.misses++;
    this.log.warn({ digest, file, problem }, 'chunk cache: cached file does not match its digest; removed, fetching it again');
    this.#verified.forget(digest);
    await this.disk.remove(digest).catch((err: unknown) => this.log.warn({ err, file }, 'chunk cache: cannot remove a corrupt file'));
    return undefined;
  }

  async #fromDisk(digest: string, file: string, algorithm: ReturnType<typeof chunkPath>['algorithm']): Promise<Buffer | undefined> {
    let found;
    try {
      found = await this.disk.read(digest, this.maxChunkBytes);
    } catch (err) {
      // A cache that cannot be read is a miss: the chunk can still be fetched.
      this.log.warn({ err, file }, 'chunk cache: cannot read a cached chunk; fetching it again');
      this.#stats.misses++;
      return undefined;
    }
    if (found.kind === 'miss') {
      this.#stats.misses++;
      return undefined;
    }
    const trusted = found.kind === 'hit' && this.#verified.trusts(digest, found.identity);
    const problem = found.kind === 'bad' ? found.reason : trusted ? undefined : checkDigest(found.data, digest, algorithm);
    if (problem !== undefined || found.kind === 'bad') return this.#discard(digest, file, problem);
    this.#stats.diskHits++;
    if (!trusted) this.#verified.remember(digest, found.identity);
    this.#memory.set(digest, found.data);
    return found.data;
  }

  /**
   * Bytes [offset, offset + length) of chunk `digest` of `size` bytes, or undefined (a miss,
   * or a file of another size: the caller fetches the chunk and verification says). From
   * memory when held; else read from its disk file by range, the file verified first (hashed
   * streaming) unless this process verified that very file before. Nothing is put in the
   * memory LRU: a reader of large chunks must not evict whole chunks per read.
   */
  async readRange(digest: string, offset: number, length: number, size: number): Promise<Buffer | undefined> {
    const { algorithm, file } = chunkPath(digest);
    const held = this.#memory.get(digest) ?? this.#writing.get(digest)?.data;
    if (held !== undefined) {
      if (held.length !== size) return undefined;
      this.#stats.memoryHits++;
      this.disk.index.touch(digest);
      return held.subarray(offset, offset + length);
    }
    if (this.#absent(digest)) return undefined;
    return this.#reading.run(digest, async () => {
      let found;
      try {
        found = await this.disk.readRange(digest, { offset, length, size }, this.maxChunkBytes, algorithm, (identity) => this.#verified.trusts(digest, identity));
      } catch (err) {
        this.log.warn({ err, file }, 'chunk cache: cannot read a cached chunk; fetching it again');
        this.#stats.misses++;
        return undefined;
      }
      if (found.kind === 'miss' || found.kind === 'size') {
        this.#stats.misses++;
        return undefined;
      }
      if (found.kind === 'bad') return this.#discard(digest, file, found.reason);
      if (found.fileDigest !== undefined && found.fileDigest !== digest) return this.#discard(digest, file, `its digest is ${found.fileDigest}`);
      this.#stats.diskHits++;
      if (found.fileDigest !== undefined) this.#verified.remember(digest, found.identity);
      return found.data;
    });
  }

  /**
   * The data of `digest` if it is held in memory (verified when it came in), else undefined;
   * synchronous, so a read served from memory costs no promise and no disk access.
   */
  peek(digest: string): Buffer | undefined {
    const held = this.#memory.get(digest) ?? this.#writing.get(digest)?.data;
    if (held !== undefined) {
      this.#stats.memoryHits++;
      this.disk.index.touch(digest);
    }
    return held;
  }

  /**
   * The disk file of chunk `digest` when this process verified it (or wrote it) and the index
   * holds it: its path and the identity it had then (the caller compares its fstat). No I/O.
   */
  verifiedFile(digest: string): { path: string; identity: string } | undefined {
    const identity = this.disk.index.has(digest) ? this.#verified.identityOf(digest) : undefined;
    return identity === undefined ? undefined : { path: this.disk.pathOf(digest), identity };
  }

  /** Whether `digest` is held in memory (no stats counted, no recency changed). */
  holds(digest: string): boolean {
    return this.#memory.has(digest) || this.#writing.has(digest);
  }

  /**
   * Keep verified `data` of `digest`: in memory at once, on disk when the returned promise
   * resolves (and the cap enforced). Putting a digest that is being written or already on disk
   * does nothing more. `memory: false` keeps it out of the memory LRU (bulk fetches that are
   * not being read now must not push out what is).
   */
  async put(digest: string, data: Buffer, opts: { memory?: boolean } = {}): Promise<void> {
    const { file } = chunkPath(digest);
    if (!Buffer.isBuffer(data)) throw new InvalidArgumentError('chunk cache: data must be a Buffer');
    if (data.length > this.maxChunkBytes) {
      throw new InvalidArgumentError(`chunk cache: ${digest} has ${data.length} bytes, more than any chunk (${this.maxChunkBytes})`);
    }
    if (opts.memory !== false) this.#memory.set(digest, data);
    const writing = this.#writing.get(digest);
    if (writing) return writing.done;
    const done = (async () => {
      try {
        // Only a chunk the index knows can already be on disk (this process owns the directory;
        // rewriting one it does not know is harmless: the new file replaces it whole).
        if (this.disk.index.has(digest) && (await this.disk.sizeOf(digest)) === data.length) return;
        // Verified before it was put: this very file needs no hashing when read back (a warm
        // read after the memory cache dropped it, or never held it, is a plain disk read).
        const identity = await this.disk.write(digest, data);
        if (identity !== undefined) this.#verified.remember(digest, identity);
        this.#stats.writes++;
      } catch (err) {
        this.#stats.writeErrors++;
        throw new Error(`chunk cache: cannot write ${file}: ${(err as Error).message}`, { cause: err });
      } finally {
        this.#writing.delete(digest);
      }
    })();
    this.#writing.set(digest, { data, done });
    this.files.stored(digest);
    await done;
    await this.#cap.enforce();
  }

  /**
   * Whether `digest` is held: in memory, being written, or a file in the disk index (verified
   * when read). Synchronous, no I/O; a hit does not count as a use.
   */
  has(digest: string): boolean {
    return this.#memory.has(digest) || this.#writing.has(digest) || this.disk.index.has(digest);
  }

  /** Resolves once every write started so far has finished (failed writes included), and the cap with them. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writing.values()].map((w) => w.done));
    await this.#cap.enforce();
  }

  /**
   * New caps (a live configuration change): the memory cache drops its oldest chunks down to
   * `memoryBytes`; the disk cache evicts down to `diskBytes` (0: no cap) in the background.
   */
  setLimits(limits: { memoryBytes: number; diskBytes: number }): void {
    for (const [name, v] of Object.entries(limits)) {
      if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`chunk cache: ${name} must be a non-negative integer, got ${v}`);
    }
    this.#memory.resize(limits.memoryBytes);
    void this.#cap.setLimit(limits.diskBytes).catch((err: unknown) => this.log.error({ err }, 'chunk cache: eviction after a new cap failed'));
  }

  /** Log the eviction summary not logged yet, close the files kept open for range reads (the cache stays usable). */
  close(): void {
    this.files.close();
    this.#cap.close();
    this.disk.close();
  }

  stats(): ChunkCacheStats {
    return {
      memoryBytes: this.#memory.bytes,
      memoryChunks: this.#memory.size,
      ...this.#stats,
      diskBytes: this.disk.index.bytes,
      diskLimitBytes: this.#cap.limitBytes,
      evictions: this.#cap.evictions,
    };
  }
}

function checkDigest(data: Buffer, digest: string, algorithm: Parameters<typeof digestOf>[1]): string | undefined {
  const actual = digestOf(data, algorithm);
  return actual === digest ? undefined : `its digest is ${actual}`;
}
