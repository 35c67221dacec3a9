import { describe, expect, it } from 'vitest';
import { formatNs, joinNs, nowNs, splitNs } from '../../../../core/contract/time.js';

describe('nowNs', () => {
  it('is strictly increasing', () => {
    let prev = nowNs();
    for (let i = 0; i < 10_000; i++) {
      const t = nowNs();
      expect(t > prev).toBe(true);
      prev = t;
    }
  });

  it('is within 2 ms of the wall clock', () => {
    for (let i = 0; i < 100; i++) {
      const before = BigInt(Date.now()) * 1_000_000n;
      const t = nowNs();
      const after = BigInt(Date.now() + 1) * 1_000_000n;
      expect(t >= before - 2_000_000n).toBe(true);
      expect(t <= after + 2_000_000n).toBe(true);
    }
  });

  it('has sub-millisecond resolution', () => {
    const samples = Array.from({ length: 50 }, () => nowNs());
    expect(samples.some((t) => t % 1_000_000n !== 0n)).toBe(true);
  });
});

describe('splitNs / joinNs', () => {
  it.each([0n, 1n, 999_999_999n, 1_000_000_000n, 1_732_000_000_123_456_789n, -1n, -999_999_999n, -1_000_000_000n, -1_500_000_000n])('round trips %s', (t) => {
    const { seconds, nanos } = splitNs(t);
    expect(nanos).toBeGreaterThanOrEqual(0);
    expect(nanos).toBeLessThan(1_000_000_000);
    expect(joinNs(seconds, nanos)).toBe(t);
  });

  it('splits into protobuf Timestamp parts', () => {
    expect(splitNs(1_732_000_000_123_456_789n)).toEqual({ seconds: 1_732_000_000n, nanos: 123_456_789 });
    expect(splitNs(-1n)).toEqual({ seconds: -1n, nanos: 999_999_999 });
  });
});

describe('formatNs', () => {
  it('prints ISO-8601 with nanoseconds', () => {
    expect(formatNs(1_732_000_000_123_456_789n)).toBe('2024-11-19T07:06:40.123456789Z');
    expect(formatNs(0n)).toBe('1970-01-01T00:00:00.000000000Z');
  });
});
