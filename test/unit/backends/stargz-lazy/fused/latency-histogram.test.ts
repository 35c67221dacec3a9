/** The read latency histogram: cumulative buckets, sum and count as Prometheus wants them. */
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../../../backends/stargz-lazy/fused/latency-histogram.js';

describe('LatencyHistogram', () => {
  it('counts each observation in its bucket, cumulatively, and keeps sum and count', () => {
    const h = new LatencyHistogram([0.01, 0.1, 1]);
    for (const v of [0.001, 0.01, 0.05, 0.5, 3]) h.observe(v);
    expect(h.snapshot()).toEqual({
      buckets: [
        { le: 0.01, count: 2 },
        { le: 0.1, count: 3 },
        { le: 1, count: 4 },
      ],
      sum: 0.001 + 0.01 + 0.05 + 0.5 + 3,
      count: 5,
    });
  });

  it('treats a negative or non-finite duration as zero', () => {
    const h = new LatencyHistogram([0.01]);
    h.observe(-1);
    h.observe(Number.NaN);
    expect(h.snapshot()).toEqual({ buckets: [{ le: 0.01, count: 2 }], sum: 0, count: 2 });
  });

  it('refuses bounds that are not positive and ascending', () => {
    expect(() => new LatencyHistogram([0.1, 0.1])).toThrow(RangeError);
    expect(() => new LatencyHistogram([0, 1])).toThrow(RangeError);
  });
});
