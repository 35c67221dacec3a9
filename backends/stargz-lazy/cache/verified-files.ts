/**
 * The chunk files this process has hashed and found right: a file is hashed once per process;
 * its identity (inode, size, ctime, mtime) is remembered, and the same file read again (after
 * the memory LRU dropped it) is trusted. Any write to it changes its ctime and makes it checked
 * again. Bounded: the oldest is forgotten first.
 */

/** Verified disk files remembered (about 200 bytes each). */
const MAX_VERIFIED_FILES = 65_536;

export class VerifiedFiles {
  /** digest -> identity of its disk file when that file last verified. */
  readonly #files = new Map<string, string>();

  /** Whether `identity` is the file of `digest` as this process last verified it. */
  trusts(digest: string, identity: string): boolean {
    return this.#files.get(digest) === identity;
  }

  /** The identity of the file of `digest` when this process last verified it, if it did. */
  identityOf(digest: string): string | undefined {
    return this.#files.get(digest);
  }

  remember(digest: string, identity: string): void {
    this.#files.delete(digest);
    this.#files.set(digest, identity);
    if (this.#files.size > MAX_VERIFIED_FILES) this.#files.delete(this.#files.keys().next().value!);
  }

  forget(digest: string): void {
    this.#files.delete(digest);
  }
}
