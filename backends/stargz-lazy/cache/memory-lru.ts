/**
 * The memory cache in front of the disk: least recently used chunks go first once the held
 * bytes pass the budget. A Map keeps insertion order, so "use" is delete + set and the oldest
 * entry is the first key. Entries larger than the whole budget are not held at all.
 */
export class MemoryLru {
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;

  constructor(private max: number) {}

  get maxBytes(): number {
    return this.max;
  }

  /** A new budget (a live configuration change): the oldest entries go until the rest fits. */
  resize(maxBytes: number): void {
    this.max = maxBytes;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.max) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.length;
    }
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether `key` is held (its recency is not changed). */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  get(key: string): Buffer | undefined {
    const data = this.#entries.get(key);
    if (data === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, data);
    return data;
  }

  set(key: string, data: Buffer): void {
    this.delete(key);
    if (data.length > this.maxBytes) return;
    this.#entries.set(key, data);
    this.#bytes += data.length;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.length;
    }
  }

  delete(key: string): void {
    const data = this.#entries.get(key);
    if (data === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= data.length;
  }
}
