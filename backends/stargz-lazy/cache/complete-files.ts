/**
 * Regular files whose every byte is in the chunk cache, as ONE file on disk each, so the kernel
 * can read them itself (FUSE passthrough, `fuse-kernel/passthrough/`). `completeFile(node)`
 * answers from memory, without I/O (it is asked on the FUSE open path); the work of making a
 * file complete runs in the background (`assembly-queue.ts`) and no open or read waits for it:
 * a file not complete yet is served from its chunks, and a later open finds it complete.
 *
 * Two kinds of complete file:
 * - a file of ONE chunk (every file up to the writer's chunk size, 4 MiB upstream: most files)
 *   is its chunk file itself: nothing to assemble, no byte more on disk. It counts once this
 *   process verified (or wrote) that chunk file (`ChunkCache.verifiedFile`).
 * - a file of several chunks gets a backing file (`backing-path.ts`: named by content, so
 *   identical files of different layers share one), assembled from the verified chunks
 *   (`assemble-file.ts`) and checked against the file's digest when the TOC has one. A backing
 *   file found at open (written before a restart) is indexed for the cap and hashed again
 *   (`verify-backing-file.ts`) the first time its file is wanted, before it serves.
 *
 * Disk: backing files share the cache's index, cap (`cache.diskBytes`) and LRU with the chunk
 * files; the chunks of an assembled file STAY (other files and layers may share them, and the
 * JS read path and `fuse-native` read chunks), so a multi-chunk file that is complete costs its
 * size twice. Bounded by `maxFileBytes` per file and `maxTotalBytes` for all backing files
 * (default half the disk cap; none without a cap): making room removes the least recently used
 * backing files first.
 */
import type { Logger } from '../../../core/sdk.js';
import type { LayerNode } from '../estargz/layer-node.js';
import { assembleFile } from './assemble-file.js';
import { AssemblyQueue, type JobReason, type SweptLayer } from './assembly-queue.js';
import { backingPathOf, isBackingKey } from './backing-path.js';
import type { DiskStore } from './disk-store.js';
import { VerifiedFiles } from './verified-files.js';
import { verifyBackingFile } from './verify-backing-file.js';

export interface CompleteFilesLimits {
  /** Files larger than this get no backing file (default 4 GiB). */
  maxFileBytes: number;
  /** Bytes of all backing files; undefined: half the disk cap (none without a cap); 0: no backing files at all. */
  maxTotalBytes: number | undefined;
}

export interface CompleteFilesDeps extends Partial<CompleteFilesLimits> {
  store: DiskStore;
  chunks: {
    has(digest: string): boolean;
    readRange(digest: string, offset: number, length: number, size: number): Promise<Buffer | undefined>;
    verifiedFile(digest: string): { path: string; identity: string } | undefined;
    stats(): { diskLimitBytes: number };
  };
  enforceCap(): Promise<void>;
  log: Logger;
}

/** A file the kernel may read itself: open `path` read-only and compare its fstat identity with `identity` first. */
export interface CompleteFile {
  /** The index key: the chunk digest (one-chunk files) or the backing key. */
  key: string;
  path: string;
  identity: string;
  size: number;
}

const DEFAULT_MAX_FILE_BYTES = 4 * 1024 ** 3;
/** Wanted files remembered while a chunk of theirs is still being fetched (oldest out). */
const MAX_WAITING = 1024;

export class CompleteFiles {
  readonly #d: CompleteFilesDeps;
  readonly #queue: AssemblyQueue;
  /** Backing files this process wrote or hashed, with their identity then. */
  readonly #verified = new VerifiedFiles();
  readonly #maxFileBytes: number;
  #enabled = false;
  /**
   * Wanted files that missed a chunk, by that chunk's digest: wanted again once it is stored.
   * A file's reads finish out of order (the kernel reads ahead in parallel), so the read that
   * reaches its end may finish before an earlier chunk has arrived.
   */
  readonly #waiting = new Map<string, LayerNode>();
  readonly counters = { assembled: 0, assembledBytes: 0, verified: 0, rejected: 0, tooLarge: 0 };

  constructor(deps: CompleteFilesDeps) {
    this.#d = deps;
    this.#maxFileBytes = deps.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.#queue = new AssemblyQueue({ run: (node, reason, signal) => this.#settle(node, reason, signal), keyOf: keyOf, log: deps.log });
  }

  /** The complete file of regular file `node`, or undefined (not complete yet, or not known right). No I/O. */
  completeFile(node: LayerNode): CompleteFile | undefined {
    if (node.type !== 'reg' || node.size === 0) return undefined;
    const only = oneChunk(node);
    if (only !== undefined) {
      const file = this.#d.chunks.verifiedFile(only);
      if (file === undefined) return undefined;
      this.#d.store.index.touch(only);
      return { key: only, ...file, size: node.size };
    }
    const { key } = backingPathOf(node);
    const identity = this.#verified.identityOf(key);
    if (identity === undefined || !this.#d.store.index.touch(key)) return undefined;
    return { key, path: this.#d.store.pathOf(key), identity, size: node.size };
  }

  /**
   * From now on, files are made complete (`want`, `sweep`). Called when a mount can use them
   * (passthrough negotiated): with `fuse-native` alone, backing files would only cost disk.
   */
  enable(): void {
    this.#enabled = true;
  }

  /** Make `node` complete in the background when its chunks are all cached (an open found it not complete, a read reached its end). */
  want(node: LayerNode): void {
    if (this.#enabled && node.type === 'reg' && node.size > 0) this.#queue.want(node);
  }

  /** Chunk `digest` is now held (ChunkCache.put): a wanted file that waited for it is wanted again. No I/O. */
  stored(digest: string): void {
    if (this.#waiting.size === 0) return;
    const node = this.#waiting.get(digest);
    if (node === undefined) return;
    this.#waiting.delete(digest);
    this.want(node);
  }

  /** Make every multi-chunk file of `layer` whose chunks are all cached complete, in the background. */
  sweep(layer: SweptLayer): void {
    if (this.#enabled) this.#queue.sweep(layer);
  }

  /** The file opened was not the one verified (its identity differs): it serves no more until hashed again. */
  mismatch(file: CompleteFile): void {
    if (isBackingKey(file.key)) this.#verified.forget(file.key);
  }

  /** Resolves once the background work queued so far is done. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  close(): void {
    this.#queue.close();
  }

  stats(): CompleteFiles['counters'] & { queueDropped: number; failed: number } {
    return { ...this.counters, queueDropped: this.#queue.counters.dropped, failed: this.#queue.counters.failed };
  }

  async #settle(node: LayerNode, reason: JobReason, signal: AbortSignal): Promise<void> {
    if (node.type !== 'reg' || node.size === 0) return;
    const missing = node.chunks.find((c) => !this.#d.chunks.has(c.chunkDigest));
    if (missing !== undefined) {
      if (reason === 'wanted') this.#wait(missing.chunkDigest, node);
      return;
    }
    const only = oneChunk(node);
    if (only !== undefined) {
      // Hashing a one-chunk file is worth it only for a file someone opens (a sweep would read a whole layer again).
      if (reason === 'wanted' && this.#d.chunks.verifiedFile(only) === undefined) await this.#d.chunks.readRange(only, 0, 0, node.size);
      return;
    }
    if (node.size > this.#maxFileBytes) {
      this.counters.tooLarge++;
      return;
    }
    const { key, digest } = backingPathOf(node);
    const path = this.#d.store.pathOf(key);
    if (this.#d.store.index.has(key)) {
      if (this.#verified.identityOf(key) !== undefined) return;
      const checked = await verifyBackingFile(path, node, digest).catch((err: unknown) => ({ ok: false as const, reason: (err as Error).message }));
      if (checked.ok) {
        this.counters.verified++;
        this.#verified.remember(key, checked.identity);
      } else await this.#reject(key, node, checked.reason);
      return;
    }
    if (!(await this.#makeRoom(node.size))) return;
    const made = await assembleFile({
      node,
      tmp: this.#d.store.tmpName(),
      digest,
      read: (c, from, length) => this.#d.chunks.readRange(c.chunkDigest, from, length, c.chunkSize),
      install: (tmp) => this.#d.store.adopt(key, tmp, node.size),
      signal,
    });
    if (!made.ok) {
      if (made.reason !== 'stopped') this.#d.log.warn({ path: node.path.slice(0, 200), reason: made.reason }, 'complete files: not assembled; the file is served from its chunks');
      return;
    }
    this.#verified.remember(key, made.identity);
    this.counters.assembled++;
    this.counters.assembledBytes += node.size;
    this.#d.log.debug({ path: node.path.slice(0, 200), key, bytes: node.size }, 'complete files: assembled');
    await this.#d.enforceCap();
  }

  async #reject(key: string, node: LayerNode, reason: string): Promise<void> {
    this.counters.rejected++;
    this.#verified.forget(key);
    this.#d.log.warn({ key, path: node.path.slice(0, 200), reason }, 'complete files: a backing file is not what its file holds; removed');
    await this.#d.store.remove(key).catch((err: unknown) => this.#d.log.warn({ err, key }, 'complete files: cannot remove a bad backing file'));
  }

  /** Whether `size` more bytes of backing files fit under the total, removing the least recently used ones if needed. */
  async #makeRoom(size: number): Promise<boolean> {
    const limit = this.#d.maxTotalBytes ?? Math.floor(this.#d.chunks.stats().diskLimitBytes / 2);
    if (limit === 0 && this.#d.maxTotalBytes === undefined) return true; // no disk cap, no total
    if (size > limit) {
      this.counters.tooLarge++;
      return false;
    }
    const index = this.#d.store.index;
    let total = 0;
    const backing: [string, number][] = [];
    for (const [key, bytes] of index.oldestFirst()) {
      if (!isBackingKey(key)) continue;
      total += bytes;
      backing.push([key, bytes]);
    }
    for (const [key, bytes] of backing) {
      if (total + size <= limit) break;
      this.#verified.forget(key);
      await this.#d.store.remove(key).catch((err: unknown) => this.#d.log.warn({ err, key }, 'complete files: cannot remove a backing file to make room'));
      total -= bytes;
    }
    return total + size <= limit;
  }

  #wait(digest: string, node: LayerNode): void {
    if (!this.#waiting.has(digest) && this.#waiting.size >= MAX_WAITING) this.#waiting.delete(this.#waiting.keys().next().value!);
    this.#waiting.set(digest, node);
  }
}

/** The chunk digest of a file made of exactly one chunk, else undefined. */
function oneChunk(node: LayerNode): string | undefined {
  const c = node.chunks.length === 1 ? node.chunks[0]! : undefined;
  return c !== undefined && c.chunkOffset === 0 && c.chunkSize === node.size ? c.chunkDigest : undefined;
}

function keyOf(node: LayerNode): string {
  return oneChunk(node) ?? backingPathOf(node).key;
}
