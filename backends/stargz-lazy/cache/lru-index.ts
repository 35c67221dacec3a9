/**
 * What the chunk cache holds on disk, in memory: digest -> file size, least recently used
 * first, and the bytes of all of it. A Map keeps insertion order, so a use is delete + set and
 * the least recently used entry is the first key: O(1) for every operation, no disk access
 * (no atime, no utimes), so a hit costs nothing measurable. Rebuilt at open from the files,
 * oldest modification time first (`scan-cache-dir.ts`).
 */
export class LruIndex {
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  /** Bytes of every file indexed. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#sizes.size;
  }

  has(digest: string): boolean {
    return this.#sizes.has(digest);
  }

  sizeOf(digest: string): number | undefined {
    return this.#sizes.get(digest);
  }

  /** Record `digest` (or its new size) as the most recently used. */
  add(digest: string, size: number): void {
    this.delete(digest);
    this.#sizes.set(digest, size);
    this.#bytes += size;
  }

  /** Mark `digest` as the most recently used; false when it is not indexed. */
  touch(digest: string): boolean {
    const size = this.#sizes.get(digest);
    if (size === undefined) return false;
    this.#sizes.delete(digest);
    this.#sizes.set(digest, size);
    return true;
  }

  delete(digest: string): number | undefined {
    const size = this.#sizes.get(digest);
    if (size === undefined) return undefined;
    this.#sizes.delete(digest);
    this.#bytes -= size;
    return size;
  }

  /** Entries, least recently used first (safe to delete from while iterating). */
  *oldestFirst(): IterableIterator<[digest: string, size: number]> {
    yield* this.#sizes;
  }
}
