import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, estargzLimitsSchema, resolveLimits } from '../../../../../backends/stargz-lazy/estargz/limits.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';

describe('eStargz limits', () => {
  it('defaults every cap and lets a backend override some', () => {
    expect(resolveLimits()).toBe(DEFAULT_LIMITS);
    expect(resolveLimits({ maxEntries: 10 })).toEqual({ ...DEFAULT_LIMITS, maxEntries: 10 });
    expect(estargzLimitsSchema.parse({})).toEqual(DEFAULT_LIMITS);
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });

  it('refuses non-positive, fractional and unknown caps, naming the field', () => {
    expect(() => resolveLimits({ maxEntries: 0 })).toThrow(InvalidArgumentError);
    expect(() => resolveLimits({ maxTocBytes: 1.5 })).toThrow(/maxTocBytes/);
    expect(() => resolveLimits({ maxTocRatio: -1 })).toThrow(/maxTocRatio/);
    expect(() => resolveLimits({ maxEntrees: 5 } as never)).toThrow(/maxEntrees|Unrecognized/);
  });
});
