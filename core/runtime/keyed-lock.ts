/**
 * Runs callbacks one at a time per key, in arrival order; different keys run concurrently.
 * The adapter makes read-merge-check-write of `Update` atomic per snapshot with it (a label-set
 * bound checked on the merged result holds); the overlay snapshotter runs the remote prepares of
 * one target one after the other; fused mounts and unmounts one mountpoint at a time.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Run `fn` after every earlier `run` with the same key has settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with a callback queued or running (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}
