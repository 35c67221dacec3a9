import { describe, expect, it } from 'vitest';
import { MalformedEstargzError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { parseModtime } from '../../../../../backends/stargz-lazy/estargz/modtime.js';

describe('parseModtime', () => {
  it('reads RFC 3339 times to nanoseconds', () => {
    expect(parseModtime('2024-05-17T10:30:43Z', 'f')).toBe(1715941843_000_000_000n);
    expect(parseModtime('2024-05-17T10:30:43.5Z', 'f')).toBe(1715941843_500_000_000n);
    expect(parseModtime('2024-05-17T10:30:43.123456789Z', 'f')).toBe(1715941843_123_456_789n);
    expect(parseModtime('2024-05-17T12:30:43+02:00', 'f')).toBe(1715941843_000_000_000n);
    expect(parseModtime('1969-12-31T23:59:59Z', 'f')).toBe(-1_000_000_000n);
    expect(parseModtime('0001-01-01T00:00:00Z', 'f')).toBe(-62135596800_000_000_000n);
  });

  it('treats empty or absent as zero', () => {
    expect(parseModtime(undefined, 'f')).toBe(0n);
    expect(parseModtime('', 'f')).toBe(0n);
  });

  it('refuses anything else with the entry name', () => {
    for (const bad of ['2024-05-17', '2024-13-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-05-17T10:30:43', 'yesterday']) {
      expect(() => parseModtime(bad, 'etc/x'), bad).toThrow(MalformedEstargzError);
    }
    expect(() => parseModtime('nope', 'etc/x')).toThrow(/"etc\/x"/);
  });
});
