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
 * A request made with a `Priority` moves to the foreground lane when that is promoted while it
 * waits (a container read joined the work it belongs to).
 */
import { InvalidArgumentError } from '../../../core/sdk.js';

export type Lane = 'foreground' | 'background';

export interface Lease {
  /** What the lease holds (the request, clamped to the lane's capacity). */
  readonly bytes: number;
  /** Give the bytes back; later calls do nothing. */
  release(): void;
}

/** A lane that can be raised to foreground while requests made with it wait. */
export class Priority {
  #lane: Lane;
  readonly #listeners = new Set<() => void>();

  constructor(lane: Lane) {
    this.#lane = lane;
  }

  get lane(): Lane {
    return this.#lane;
  }

  /** From now on foreground, the requests waiting with it included. */
  promote(): void {
    if (this.#lane === 'foreground') return;
    this.#lane = 'foreground';
    for (const listener of [...this.#listeners]) listener();
    this.#listeners.clear();
  }

  /** Call `listener` on promotion; the answer unsubscribes. */
  onPromote(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

interface Waiter {
  bytes: number;
  lane: Lane;
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
  acquire(bytes: number, priority: Lane | Priority, signal?: AbortSignal): Promise<Lease> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      return Promise.reject(new InvalidArgumentError(`${this.name}: cannot acquire ${bytes} bytes`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const charge = (lane: Lane) => Math.min(bytes, lane === 'foreground' ? this.capacity : this.backgroundCapacity);
    const lane = typeof priority === 'string' ? priority : priority.lane;
    // Nothing waits ahead of it (a queue's head never fits between pumps) and it fits: granted
    // now, as the queue would, without an abort listener and a promotion subscription to set up
    // and take down (most requests; EventTarget listeners were ~2 % of fused's busy time).
    const ahead = this.#queues.foreground.length + (lane === 'background' ? this.#queues.background.length : 0);
    if (ahead === 0 && this.#fits(charge(lane), lane)) return Promise.resolve(this.#lease(charge(lane), lane));
    return new Promise<Lease>((resolve, reject) => {
      let unsubscribe = () => {};
      const waiter: Waiter = {
        bytes: charge(lane),
        lane,
        grant: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          unsubscribe();
          resolve(lease);
        },
      };
      const onAbort = () => {
        if (!this.#unqueue(waiter)) return; // granted meanwhile
        unsubscribe();
        reject(signal!.reason as Error);
        this.#pump(); // the head that left may have blocked others
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (typeof priority !== 'string' && lane === 'background') {
        unsubscribe = priority.onPromote(() => {
          if (!this.#unqueue(waiter)) return;
          waiter.lane = 'foreground';
          waiter.bytes = charge('foreground');
          this.#queues.foreground.push(waiter);
          this.#pump();
        });
      }
      this.#queues[lane].push(waiter);
      this.#pump();
    });
  }

  /** Take `waiter` out of its queue; false when it is in none (granted). */
  #unqueue(waiter: Waiter): boolean {
    const queue = this.#queues[waiter.lane];
    const at = queue.indexOf(waiter);
    if (at < 0) return false;
    queue.splice(at, 1);
    return true;
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
        waiter.grant(this.#lease(waiter.bytes, waiter.lane));
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
