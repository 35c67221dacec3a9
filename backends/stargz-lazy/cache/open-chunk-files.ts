/**
 * Chunk files kept open between range reads: a 128 KiB FUSE read of a large chunk on disk is
 * then a pread and an fstat side by side (the caller compares the identity and the link count:
 * a file written to, cut, or unlinked or renamed over since is opened and checked again), not
 * open + fstat + pread + close one after the other. Bounded in count (least recently used
 * closed first) and in age: a file opened more than `maxAgeMs` ago is not handed out again, so
 * the next read opens the path afresh whatever happened to it (a replacement the fstat cannot
 * see: the old inode still linked elsewhere).
 *
 * A file in use by a read is never closed under it: `drop` (the chunk removed, evicted or
 * rewritten) and eviction only mark it, and the last `release` closes it.
 */
import type { FileHandle } from 'node:fs/promises';

export interface OpenChunkFile {
  readonly handle: FileHandle;
  readonly size: number;
  readonly identity: string;
}

interface Entry extends OpenChunkFile {
  readonly openedAt: number;
  uses: number;
  /** Out of the table: closed by the last release. */
  dropped: boolean;
}

export class OpenChunkFiles {
  /** digest -> open file, least recently used first. */
  readonly #files = new Map<string, Entry>();

  constructor(
    private readonly maxFiles: number,
    private readonly maxAgeMs: number,
    private readonly onCloseError: (err: unknown) => void,
  ) {}

  /** Files kept open now (in use or not). */
  get size(): number {
    return this.#files.size;
  }

  /** The open file of `digest`, in use until `release`d; undefined when none (or too old). */
  acquire(digest: string): OpenChunkFile | undefined {
    const entry = this.#files.get(digest);
    if (entry === undefined) return undefined;
    if (performance.now() - entry.openedAt > this.maxAgeMs) {
      this.drop(digest);
      return undefined;
    }
    this.#files.delete(digest);
    this.#files.set(digest, entry);
    entry.uses++;
    return entry;
  }

  /**
   * Keeps `file` (just opened and checked by the caller, who uses it now) as the open file of
   * `digest`, closing the least recently used ones not in use beyond `maxFiles`; answers what
   * the caller `release`s when done. A digest kept already keeps its file: this one is closed
   * by its release.
   */
  add(digest: string, file: OpenChunkFile): OpenChunkFile {
    const entry: Entry = { ...file, openedAt: performance.now(), uses: 1, dropped: false };
    if (this.#files.has(digest) || this.maxFiles === 0) {
      entry.dropped = true;
      return entry;
    }
    // Files past their age go too (not only when asked for again): an idle descriptor does not
    // keep a file removed from outside on the disk for longer than the next open.
    for (const [other, kept] of this.#files) if (entry.openedAt - kept.openedAt > this.maxAgeMs) this.drop(other);
    this.#files.set(digest, entry);
    for (const [oldest] of this.#files) {
      if (this.#files.size <= this.maxFiles) break;
      this.drop(oldest);
    }
    return entry;
  }

  /** The caller is done with `file`; a dropped one is closed by its last user. */
  release(file: OpenChunkFile): void {
    const entry = file as Entry;
    entry.uses--;
    if (entry.dropped && entry.uses === 0) this.#close(entry);
  }

  /** Forget the file of `digest` (removed, evicted, rewritten); closed now, or when its reads end. */
  drop(digest: string): void {
    const entry = this.#files.get(digest);
    if (entry === undefined) return;
    this.#files.delete(digest);
    entry.dropped = true;
    if (entry.uses === 0) this.#close(entry);
  }

  /** Drop every file (those in use close when their reads end). */
  dropAll(): void {
    for (const digest of [...this.#files.keys()]) this.drop(digest);
  }

  #close(entry: Entry): void {
    entry.handle.close().catch(this.onCloseError);
  }
}
