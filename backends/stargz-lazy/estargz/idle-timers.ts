/**
 * The two timers of a pooled worker left without a job (toc-index-worker-pool.ts): one makes it
 * collect its garbage soon, the other stops it later; a job that comes first disarms both.
 * Neither keeps the process alive.
 */
export interface IdleActions {
  collectAfterMs: number;
  /** 0: never stopped. */
  stopAfterMs: number;
  collect: () => void;
  stop: () => void;
}

export class IdleTimers {
  #collect: NodeJS.Timeout | undefined;
  #stop: NodeJS.Timeout | undefined;

  arm(a: IdleActions): void {
    this.disarm();
    this.#collect = setTimeout(() => {
      this.#collect = undefined;
      a.collect();
    }, a.collectAfterMs);
    this.#collect.unref();
    if (a.stopAfterMs === 0) return;
    this.#stop = setTimeout(() => {
      this.#stop = undefined;
      a.stop();
    }, a.stopAfterMs);
    this.#stop.unref();
  }

  disarm(): void {
    clearTimeout(this.#collect);
    clearTimeout(this.#stop);
    this.#collect = undefined;
    this.#stop = undefined;
  }
}
