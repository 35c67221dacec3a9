/**
 * An async semaphore counted in bytes (or any unit): `acquire(n)` waits until `n` more fit
 * under the capacity, and the lease gives them back once. Two lanes, foreground first: a
 * waiting foreground request is granted before any background one, and the background lane
 * may hold at most `backgroundCapacity` (the rest stays free for foreground requests, so a
 * container's read never waits behind a full budget of prefetch or background fetch, only
 * behind the foreground work before it). Within a lane, requests are granted in order (a large
 * one is not overtaken forever by small ones).
 *
 * A request larger than its lane's capacity is charged that capacity: it runs alone (in its
 * lane) rather than never. `highWaterBytes` is the most ever held at once (tests assert it).
 */
import { InvalidArgumentError } from '../../../core/sdk.js';

export type Lane = 'foreground' | 'background';

export interface Lease {
  /** What the lease holds (the request, clamped to the lane's capacity). */
  readonly bytes: number;
  /** Give the bytes back; later calls do nothing. */
  release(): void;
}

interface Waiter {
  bytes: number;
  grant: (lease: Lease) => void;
}

export class ByteBudget {
  readonly #queues: Record<Lane, Waiter[]> = { foreground: [], background: [] };
  readonly #held: Record<Lane, number> = { foreground: 0, background: 0 };
  #highWater = 0;
  readonly backgroundCapacity: number;

  /**
   * `name` is for messages; `backgroundShare` is the part of `capacity` the background lane
   * may hold (default: all of it).
   */
  constructor(
    readonly name: string,
    readonly capacity: number,
    backgroundShare = 1,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new InvalidArgumentError(`${name}: capacity must be a positive integer, got ${capacity}`);
    }
    if (!(backgroundShare > 0 && backgroundShare <= 1)) {
      throw new InvalidArgumentError(`${name}: backgroundShare must be in (0, 1], got ${backgroundShare}`);
    }
    this.backgroundCapacity = Math.max(1, Math.floor(capacity * backgroundShare));
  }

  /** Bytes held now (both lanes). */
  get heldBytes(): number {
    return this.#held.foreground + this.#held.background;
  }

  /** The most bytes ever held at once. */
  get highWaterBytes(): number {
    return this.#highWater;
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.#queues.foreground.length + this.#queues.background.length;
  }

  /** Wait until `bytes` fit (clamped to the lane's capacity); rejects with the signal's reason when it aborts first. */
  acquire(bytes: number, lane: Lane, signal?: AbortSignal): Promise<Lease> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      return Promise.reject(new InvalidArgumentError(`${this.name}: cannot acquire ${bytes} bytes`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const charged = Math.min(bytes, lane === 'foreground' ? this.capacity : this.backgroundCapacity);
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        bytes: charged,
        grant: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
      };
      const onAbort = () => {
        const queue = this.#queues[lane];
        const at = queue.indexOf(waiter);
        if (at < 0) return; // granted meanwhile
        queue.splice(at, 1);
        reject(signal!.reason as Error);
        this.#pump(); // the head that left may have blocked others
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queues[lane].push(waiter);
      this.#pump();
    });
  }

  #fits(bytes: number, lane: Lane): boolean {
    if (this.heldBytes + bytes > this.capacity) return false;
    return lane === 'foreground' || this.#held.background + bytes <= this.backgroundCapacity;
  }

  #pump(): void {
    for (const lane of ['foreground', 'background'] as const) {
      const queue = this.#queues[lane];
      while (queue.length > 0 && this.#fits(queue[0]!.bytes, lane)) {
        const waiter = queue.shift()!;
        waiter.grant(this.#lease(waiter.bytes, lane));
      }
      // Foreground first: nothing of the background lane while a foreground request waits.
      if (queue.length > 0) return;
    }
  }

  #lease(bytes: number, lane: Lane): Lease {
    this.#held[lane] += bytes;
    this.#highWater = Math.max(this.#highWater, this.heldBytes);
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.#held[lane] -= bytes;
        this.#pump();
      },
    };
  }
}
