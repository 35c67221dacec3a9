/**
 * Counts the calls in flight on one backend instance so shutdown can wait for them (bounded)
 * and then cancel the rest. One tracker per backend; every RPC runs through `run()`.
 */
import { UnavailableError } from '../contract/errors.js';

export class CallTracker {
  readonly #controller = new AbortController();
  #inFlight = 0;
  #idle: Array<() => void> = [];

  /** Aborted by `abort()`; every call's signal follows it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Run `fn`, counting it while it runs. After `abort()`, refuses with UnavailableError. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.signal.aborted) throw new UnavailableError('the backend is shutting down');
    this.#inFlight++;
    try {
      return await fn();
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Resolves true once no call is in flight, false when `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idle = this.#idle.filter((w) => w !== wake);
        resolve(false);
      }, Math.max(0, timeoutMs));
      this.#idle.push(wake);
    });
  }

  /** Cancel every call in flight (their `Call.signal` aborts) and refuse new ones. */
  abort(reason?: unknown): void {
    this.#controller.abort(reason ?? new UnavailableError('the backend is shutting down'));
  }
}
