/**
 * Mounts before layers opened ahead. A pull's first prepare opens its own layer while the layers
 * above it are opened ahead (layers-ahead.ts), and all of them are indexed by one worker thread:
 * when an ahead layer's TOC arrived first, the mount waited behind its index (~25 ms for 5000
 * files). Opens a mount waits for run as foreground work (`run`); an open ahead fetches its
 * footer and TOC at once but indexes only once no foreground open is running (`idle`), or as
 * soon as a mount takes it (then it is foreground itself).
 */
export class ForegroundFirst {
  #running = 0;
  #waiters: (() => void)[] = [];

  /** `work` as foreground work: `idle()` waits until it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.#running++;
    try {
      return await work();
    } finally {
      this.#running--;
      if (this.#running === 0) this.#wake();
    }
  }

  /** Resolves once no foreground work runs (at once when none does), or when `unless` resolves. */
  idle(unless?: Promise<unknown>): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    const waiting = new Promise<void>((resolve) => this.#waiters.push(resolve));
    return unless === undefined ? waiting : Promise.race([waiting, unless.then(() => undefined)]);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
