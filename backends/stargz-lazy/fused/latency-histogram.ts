/**
 * A cumulative latency histogram in seconds (Prometheus' shape: counts per upper bound,
 * sum, count), cheap enough to observe on every FUSE read.
 */

/** Upper bounds in seconds: a memory hit is well under a millisecond, a registry fetch tens to thousands. */
export const READ_LATENCY_BOUNDS = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export interface HistogramSnapshot {
  /** Cumulative counts per upper bound, ascending; `+Inf` is `count`. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

export class LatencyHistogram {
  readonly #bounds: readonly number[];
  /** Non-cumulative counts per bound (index = bucket); the last slot is above every bound. */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[] = READ_LATENCY_BOUNDS) {
    if (bounds.some((b, i) => !(b > 0) || (i > 0 && b <= bounds[i - 1]!))) {
      throw new RangeError('histogram bounds must be positive and ascending');
    }
    this.#bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    const v = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    let i = 0;
    while (i < this.#bounds.length && v > this.#bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += v;
    this.#count++;
  }

  snapshot(): HistogramSnapshot {
    let running = 0;
    const buckets = this.#bounds.map((le, i) => {
      running += this.#counts[i]!;
      return { le, count: running };
    });
    return { buckets, sum: this.#sum, count: this.#count };
  }
}
