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
 * memory LRU dropped it) is trusted; any write to it changes its ctime and makes it checked again. Buffers returned are shared with the
 * cache: callers copy, never write into them.
 */
import { InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import { digestOf } from '../estargz/digest.js';
import { DEFAULT_LIMITS } from '../estargz/limits.js';
import { chunkPath } from './chunk-path.js';
import { DiskStore } from './disk-store.js';
import { MemoryLru } from './memory-lru.js';

/** Verified disk files remembered (about 200 bytes each). */
const MAX_VERIFIED_FILES = 65_536;

export interface ChunkCacheOptions {
  /** Budget of the memory LRU in bytes; 0 turns it off. */
  memoryBytes: number;
  log: Logger;
  /** Files larger than this are not chunks: removed on read. Default: the eStargz `maxChunkBytes` limit. */
  maxChunkBytes?: number;
}

export interface ChunkCacheStats {
  memoryBytes: number;
  memoryChunks: number;
  memoryHits: number;
  diskHits: number;
  misses: number;
  /** Disk files that failed verification (and were removed). */
  corrupt: number;
  writes: number;
  writeErrors: number;
}

export class ChunkCache {
  readonly #memory: MemoryLru;
  /** Data being written to disk, served from here meanwhile. */
  readonly #writing = new Map<string, { data: Buffer; done: Promise<void> }>();
  /** digest -> identity of its disk file when that file last verified (bounded; oldest forgotten first). */
  readonly #verified = new Map<string, string>();
  readonly #stats = { memoryHits: 0, diskHits: 0, misses: 0, corrupt: 0, writes: 0, writeErrors: 0 };

  private constructor(
    private readonly disk: DiskStore,
    memoryBytes: number,
    private readonly maxChunkBytes: number,
    private readonly log: Logger,
  ) {
    this.#memory = new MemoryLru(memoryBytes);
  }

  /** Open (creating it if needed) the cache in `dir`. */
  static async open(dir: string, opts: ChunkCacheOptions): Promise<ChunkCache> {
    if (typeof dir !== 'string' || dir === '' || dir.includes('\0')) {
      throw new InvalidArgumentError(`chunk cache: directory must be a non-empty path, got ${JSON.stringify(dir)}`);
    }
    if (!Number.isSafeInteger(opts.memoryBytes) || opts.memoryBytes < 0) {
      throw new InvalidArgumentError(`chunk cache: memoryBytes must be a non-negative integer, got ${opts.memoryBytes}`);
    }
    const maxChunkBytes = opts.maxChunkBytes ?? DEFAULT_LIMITS.maxChunkBytes;
    if (!Number.isSafeInteger(maxChunkBytes) || maxChunkBytes <= 0) {
      throw new InvalidArgumentError(`chunk cache: maxChunkBytes must be a positive integer, got ${maxChunkBytes}`);
    }
    const log = opts.log.child({ component: 'chunk-cache' });
    return new ChunkCache(await DiskStore.open(dir, log), opts.memoryBytes, maxChunkBytes, log);
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
      return held;
    }
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
    const trusted = found.kind === 'hit' && this.#verified.get(digest) === found.identity;
    const problem = found.kind === 'bad' ? found.reason : trusted ? undefined : checkDigest(found.data, digest, algorithm);
    if (problem !== undefined || found.kind === 'bad') {
      this.#stats.corrupt++;
      this.#stats.misses++;
      this.log.warn({ digest, file, problem }, 'chunk cache: cached file does not match its digest; removed, fetching it again');
      this.#verified.delete(digest);
      await this.disk.remove(digest).catch((err: unknown) => this.log.warn({ err, file }, 'chunk cache: cannot remove a corrupt file'));
      return undefined;
    }
    this.#stats.diskHits++;
    if (!trusted) this.#remember(digest, found.identity);
    this.#memory.set(digest, found.data);
    return found.data;
  }

  /**
   * The data of `digest` if it is held in memory (verified when it came in), else undefined;
   * synchronous, so a read served from memory costs no promise and no disk access.
   */
  peek(digest: string): Buffer | undefined {
    const held = this.#memory.get(digest) ?? this.#writing.get(digest)?.data;
    if (held !== undefined) this.#stats.memoryHits++;
    return held;
  }

  /** Whether `digest` is held in memory (no stats counted, no recency changed). */
  holds(digest: string): boolean {
    return this.#memory.has(digest) || this.#writing.has(digest);
  }

  /**
   * Keep verified `data` of `digest`: in memory at once, on disk when the returned promise
   * resolves. Putting a digest that is being written or already on disk does nothing more.
   */
  async put(digest: string, data: Buffer): Promise<void> {
    const { file } = chunkPath(digest);
    if (!Buffer.isBuffer(data)) throw new InvalidArgumentError('chunk cache: data must be a Buffer');
    if (data.length > this.maxChunkBytes) {
      throw new InvalidArgumentError(`chunk cache: ${digest} has ${data.length} bytes, more than any chunk (${this.maxChunkBytes})`);
    }
    this.#memory.set(digest, data);
    const writing = this.#writing.get(digest);
    if (writing) return writing.done;
    const done = (async () => {
      try {
        if ((await this.disk.sizeOf(digest)) === data.length) return;
        await this.disk.write(digest, data);
        this.#stats.writes++;
      } catch (err) {
        this.#stats.writeErrors++;
        throw new Error(`chunk cache: cannot write ${file}: ${(err as Error).message}`, { cause: err });
      } finally {
        this.#writing.delete(digest);
      }
    })();
    this.#writing.set(digest, { data, done });
    return done;
  }

  /** Whether `digest` is held (memory, or a disk file that will be verified when read). */
  async has(digest: string): Promise<boolean> {
    chunkPath(digest);
    if (this.#memory.get(digest) !== undefined || this.#writing.has(digest)) return true;
    return (await this.disk.sizeOf(digest).catch(() => undefined)) !== undefined;
  }

  /** Resolves once every write started so far has finished (failed writes included). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writing.values()].map((w) => w.done));
  }

  #remember(digest: string, identity: string): void {
    this.#verified.delete(digest);
    this.#verified.set(digest, identity);
    if (this.#verified.size > MAX_VERIFIED_FILES) this.#verified.delete(this.#verified.keys().next().value!);
  }

  stats(): ChunkCacheStats {
    return { memoryBytes: this.#memory.bytes, memoryChunks: this.#memory.size, ...this.#stats };
  }
}

function checkDigest(data: Buffer, digest: string, algorithm: Parameters<typeof digestOf>[1]): string | undefined {
  const actual = digestOf(data, algorithm);
  return actual === digest ? undefined : `its digest is ${actual}`;
}
