/**
 * The chunks whose disk file is being read now, counted per digest: the disk cap never removes
 * those (`disk-cap.ts`, `isPinned`).
 */
export class ReadPins {
  readonly #reads = new Map<string, number>();

  has(digest: string): boolean {
    return this.#reads.has(digest);
  }

  /** Runs `read` with `digest` pinned. */
  async run<T>(digest: string, read: () => Promise<T>): Promise<T> {
    this.#reads.set(digest, (this.#reads.get(digest) ?? 0) + 1);
    try {
      return await read();
    } finally {
      const n = this.#reads.get(digest)! - 1;
      if (n === 0) this.#reads.delete(digest);
      else this.#reads.set(digest, n);
    }
  }
}
