/**
 * The files of the chunk cache: `<root>/<hex[0:2]>/<hex>` (see `chunk-path.ts`), written under
 * a temporary name in `<root>/tmp/` and renamed into place, so a reader sees a whole file or
 * none. No fsync: a file cut short by a power loss is caught by the digest check on read
 * (`chunk-cache.ts`) and refetched, which costs less than syncing every chunk.
 *
 * Temporary names carry the writer's pid; on open, leftovers of processes that no longer run,
 * and any older than `STALE_TEMP_MS` (a write takes milliseconds; pids get reused), are
 * removed. Another live process may be writing into the same cache, so nothing else is.
 *
 * The whole-file backing files (`backing-path.ts`, written by `complete-files.ts`) live under
 * `<root>/files/`, share `tmp/` and the index (keyed `file:…`), and are removed the same way.
 *
 * Every write and removal of a chunk file goes through here, so the LRU index (`lru-index.ts`:
 * sizes and recency, rebuilt from the directory at open) stays what is on disk; the size cap
 * (`disk-cap.ts`) works from it. A file found on read that the index does not know (written by
 * another instance on the same directory) is indexed then; one found missing is dropped.
 *
 * Range reads (large chunks) keep their file open between reads (`open-chunk-files.ts`); a
 * write or removal of a chunk closes its kept file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../../../core/sdk.js';
import type { DigestAlgorithm } from '../estargz/digest.js';
import { processRuns } from '../protocol/process-runs.js';
import { backingPath } from './backing-path.js';
import { chunkPath } from './chunk-path.js';
import { identityOf } from './file-identity.js';
import { hashFile, readFully, readWhole } from './file-reads.js';
import { LruIndex } from './lru-index.js';
import { OpenChunkFiles, type OpenChunkFile } from './open-chunk-files.js';
import { scanBackingFiles } from './scan-backing-files.js';
import { scanCacheDir } from './scan-cache-dir.js';
import { writeFileRenamed } from './write-file-renamed.js';

const TMP_DIR = 'tmp';
const STALE_TEMP_MS = 10 * 60_000;
/**
 * Chunk files kept open for range reads (64 descriptors at most, besides reads in progress),
 * and for how long one is reused before the path is opened (and its identity checked) again.
 */
const MAX_OPEN_FILES = 64;
const OPEN_FILE_MAX_AGE_MS = 1000;

/** What `read` found. */
export type DiskRead =
  /** `identity` tells this very file from a rewrite of it (inode, size, change and modification times). */
  | { kind: 'hit'; data: Buffer; identity: string }
  | { kind: 'miss' }
  /** A file that cannot be a chunk (too large, not a regular file): the caller removes it. */
  | { kind: 'bad'; reason: string };

/** What `readRange` found. */
export type DiskRangeRead =
  /** `fileDigest`: the whole file's digest, when the caller did not trust `identity` (hashed streaming). */
  | { kind: 'hit'; data: Buffer; identity: string; fileDigest?: string }
  | { kind: 'miss' }
  /** The file has another size than the chunk asked for: nothing read, nothing removed. */
  | { kind: 'size'; size: number }
  | { kind: 'bad'; reason: string };

export class DiskStore {
  /** Chunk files on disk: sizes, least recently used first. */
  readonly index = new LruIndex();
  /** Digests whose file is being removed: a read that still finds it does not index it again. */
  readonly #removing = new Set<string>();
  /** Shard directories made (or found) by this process: no mkdir per write. */
  readonly #dirs = new Set<string>();
  readonly #tmpPrefix = randomBytes(6).toString('hex');
  #tmpCount = 0;
  /** Files kept open between range reads of large chunks. */
  readonly #open = new OpenChunkFiles(MAX_OPEN_FILES, OPEN_FILE_MAX_AGE_MS, (err) =>
    this.log.warn({ err }, 'chunk cache: cannot close a chunk file kept open for range reads'),
  );

  private constructor(
    readonly root: string,
    private readonly log: Logger,
  ) {}

  static async open(dir: string, log: Logger): Promise<DiskStore> {
    const root = resolve(dir);
    await mkdir(join(root, TMP_DIR), { recursive: true, mode: 0o700 });
    const store = new DiskStore(root, log);
    await store.removeStaleTemps();
    const chunks = (await scanCacheDir(root)).map((c) => ({ key: c.digest, size: c.size, mtimeMs: c.mtimeMs }));
    const files = await scanBackingFiles(root);
    for (const f of [...chunks, ...files].sort((a, b) => a.mtimeMs - b.mtimeMs)) store.index.add(f.key, f.size);
    return store;
  }

  /** The file of `digest`, at most `maxBytes` long. */
  async read(digest: string, maxBytes: number): Promise<DiskRead> {
    return this.#withFile(digest, maxBytes, false, async (handle, size, identity) => {
      const data = Buffer.allocUnsafe(size);
      const got = await readWhole(handle, data);
      return { kind: 'hit', data: got === data.length ? data : data.subarray(0, got), identity };
    });
  }

  /**
   * Bytes [offset, offset + length) of the file of `digest`, which must be `size` bytes long
   * (at most `maxBytes`). Unless `trusted(identity)`, the whole file is hashed first, piece by
   * piece (`file-reads.ts`: 1 MiB held, whatever its size), and its digest returned for the caller to
   * check before it uses the bytes. A read of 128 KiB of a 64 MiB chunk costs 128 KiB of I/O
   * and memory, not 64 MiB.
   */
  async readRange(
    digest: string,
    range: { offset: number; length: number; size: number },
    maxBytes: number,
    algorithm: DigestAlgorithm,
    trusted: (identity: string) => boolean,
  ): Promise<DiskRangeRead> {
    return this.#withFile<DiskRangeRead>(digest, maxBytes, true, async (handle, size, identity) => {
      if (size !== range.size) return { kind: 'size', size };
      const fileDigest = trusted(identity) ? undefined : await hashFile(handle, size, algorithm);
      const from = Math.min(Math.max(0, range.offset), size);
      const data = Buffer.allocUnsafe(Math.max(0, Math.min(range.length, size - from)));
      const got = await readFully(handle, data, from);
      if (got !== data.length) return { kind: 'bad', reason: `cut short while read (${from + got} of ${size} bytes)` };
      return fileDigest === undefined ? { kind: 'hit', data, identity } : { kind: 'hit', data, identity, fileDigest };
    });
  }

  /**
   * Opens the file of `digest` and hands it to `use` with its size and identity: a miss when
   * there is none, `bad` when it cannot be a chunk (not a regular file, over `maxBytes`). A
   * hit indexes the file (another instance may have written it; nlink 0: removed, evicted,
   * while this read had it open: the data is fine, the file is gone). `keep`: the file is
   * taken from, and kept in, the table of open files (`open-chunk-files.ts`; range reads).
   */
  async #withFile<T extends { kind: string }>(
    digest: string,
    maxBytes: number,
    keep: boolean,
    use: (handle: FileHandle, size: number, identity: string) => Promise<T>,
  ): Promise<T | { kind: 'miss' } | { kind: 'bad'; reason: string }> {
    const kept = keep ? this.#open.acquire(digest) : undefined;
    if (kept !== undefined) {
      try {
        // The fstat runs alongside the read (no added wait): a file written to since it was
        // opened (another ctime) or unlinked from outside is not answered from this descriptor.
        const [st, out] = await Promise.all([kept.handle.stat(), use(kept.handle, kept.size, kept.identity)]);
        if (st.nlink > 0 && identityOf(st) === kept.identity) {
          if (out.kind === 'hit') this.index.touch(digest);
          return out;
        }
      } finally {
        this.#open.release(kept);
      }
      this.#open.drop(digest); // and opened again below: identity checked, hashed if new
    }
    let handle;
    try {
      handle = await open(this.pathOf(digest), 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT')) {
        this.index.delete(digest);
        return { kind: 'miss' };
      }
      throw err;
    }
    let file: OpenChunkFile | undefined;
    try {
      const st = await handle.stat();
      if (!st.isFile()) return { kind: 'bad', reason: 'not a regular file' };
      if (st.size > maxBytes) return { kind: 'bad', reason: `${st.size} bytes, more than any chunk (${maxBytes})` };
      // Kept only while it is the file of `digest`: not removed meanwhile, not removed from outside.
      if (keep && !this.#removing.has(digest) && st.nlink > 0) file = this.#open.add(digest, { handle, size: st.size, identity: identityOf(st) });
      const out = await use(handle, st.size, identityOf(st));
      if (out.kind === 'hit' && !this.index.touch(digest) && !this.#removing.has(digest) && st.nlink > 0) this.index.add(digest, st.size);
      return out;
    } finally {
      if (file !== undefined) this.#open.release(file);
      else await handle.close();
    }
  }

  /** Close the files kept open for range reads (those in use close when their reads end). */
  close(): void {
    this.#open.dropAll();
  }

  /**
   * Size of the file of `digest`, undefined when there is none (its content is checked only
   * when read); a file found is indexed (another instance may have written it).
   */
  async sizeOf(digest: string): Promise<number | undefined> {
    try {
      const st = await stat(this.pathOf(digest));
      if (!st.isFile()) return undefined;
      if (!this.index.touch(digest) && !this.#removing.has(digest)) this.index.add(digest, st.size);
      return st.size;
    } catch (err) {
      if (isCode(err, 'ENOENT')) {
        this.index.delete(digest);
        return undefined;
      }
      throw err;
    }
  }

  /**
   * Writes `data` as the file of `digest` (a temp file renamed over it, `write-file-renamed.ts`)
   * and answers the file's identity (from the descriptor after the rename: this very inode), or
   * undefined when it is not what was written.
   */
  async write(digest: string, data: Buffer): Promise<string | undefined> {
    const { dir, file } = chunkPath(digest);
    if (!this.#dirs.has(dir)) {
      await mkdir(join(this.root, dir), { recursive: true, mode: 0o700 });
      this.#dirs.add(dir);
    }
    try {
      const st = await writeFileRenamed(this.tmpName(), join(this.root, file), data, 0o600);
      this.#open.drop(digest); // a descriptor of the file replaced
      this.index.add(digest, data.length);
      return st.isFile() && st.size === data.length ? identityOf(st) : undefined;
    } catch (err) {
      // A shard directory removed from outside is made again by the next write.
      if (isCode(err, 'ENOENT')) this.#dirs.delete(dir);
      throw err;
    }
  }

  /**
   * A temp name: `<pid>-…` (removeStaleTemps keeps the temps of live processes), unique in this
   * process by the counter (one random draw per store, not one per write).
   */
  tmpName(): string {
    return join(this.root, TMP_DIR, `${process.pid}-${this.#tmpPrefix}-${(this.#tmpCount++).toString(36)}`);
  }

  /** Remove the file of `digest` (gone already is fine); its bytes leave the index at once. */
  async remove(digest: string): Promise<void> {
    const path = this.pathOf(digest);
    this.index.delete(digest);
    this.#open.drop(digest);
    this.#removing.add(digest);
    try {
      await unlink(path);
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    } finally {
      this.#removing.delete(digest);
    }
  }

  /** The file of `key`: a chunk digest, or a backing file's key (`backing-path.ts`). */
  pathOf(key: string): string {
    return join(this.root, backingPath(key)?.file ?? chunkPath(key).file);
  }

  /**
   * Puts the whole temp file `tmp` (of `size` bytes, written by the caller) in place as the file
   * of backing key `key` and indexes it as the most recently used; the caller enforces the cap.
   */
  async adopt(key: string, tmp: string, size: number): Promise<void> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    if (!this.#dirs.has(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      this.#dirs.add(dir);
    }
    try {
      await rename(tmp, path);
    } catch (err) {
      if (isCode(err, 'ENOENT')) this.#dirs.delete(dir);
      throw err;
    }
    this.index.add(key, size);
  }

  private async removeStaleTemps(): Promise<void> {
    const dir = join(this.root, TMP_DIR);
    let removed = 0;
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      const mtimeMs = await stat(path).then((s) => s.mtimeMs, () => 0);
      if (Number.isSafeInteger(pid) && processRuns(pid) && Date.now() - mtimeMs < STALE_TEMP_MS) continue;
      await unlink(path).catch(() => undefined);
      removed++;
    }
    if (removed > 0) this.log.info({ dir, removed }, 'chunk cache: removed temporary files of an earlier run');
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as { code?: unknown } | null)?.code === code;
}
