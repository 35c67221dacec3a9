/**
 * Chunk fetches in progress, by chunk digest, so that concurrent reads of the same chunk make
 * one request. A fetch runs with the signal of the read that started it; when that read is
 * aborted, the reads that joined it see the abort and start their own fetch (`ownerAborted`).
 */
export interface Flight {
  readonly promise: Promise<Buffer>;
  /** The signal of the read that started the fetch. */
  readonly signal: AbortSignal | undefined;
}

export class InFlight {
  readonly #flights = new Map<string, Flight>();

  get(digest: string): Flight | undefined {
    return this.#flights.get(digest);
  }

  get size(): number {
    return this.#flights.size;
  }

  /** Register `promise` as the fetch of `digest` until it settles. */
  start(digest: string, promise: Promise<Buffer>, signal: AbortSignal | undefined): Flight {
    const flight: Flight = { promise, signal };
    this.#flights.set(digest, flight);
    const done = () => {
      if (this.#flights.get(digest) === flight) this.#flights.delete(digest);
    };
    // Settles the map entry; the rejection itself reaches every reader that awaits `promise`.
    promise.then(done, done);
    return flight;
  }
}

/** Whether a joined fetch failed only because the read that started it was aborted. */
export function ownerAborted(flight: Pick<Flight, 'signal'>, signal: AbortSignal | undefined): boolean {
  return flight.signal !== undefined && flight.signal !== signal && flight.signal.aborted && !signal?.aborted;
}

/** `promise`, or the abort reason of `signal` as soon as it aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
