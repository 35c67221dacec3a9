/**
 * The FUSE process's memory budget: the parts add up to the ceiling, the memory cache is cut
 * first and the heap never goes below its floor, the V8 flags carry the heap, `snaphost check`
 * says when the cache is cut, and nonsense is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BASE_BYTES,
  BUDGET_WORKERS,
  budgetProblems,
  cgroupLimitsOf,
  DEFAULT_FUSED_MEMORY_LIMIT_BYTES,
  memoryBudget,
  MIN_FUSED_MEMORY_LIMIT_BYTES,
  MIN_HEAP_BYTES,
  nodeFlagsOf,
  WORKER_BYTES,
} from '../../../../../backends/stargz-lazy/protocol/memory-budget.js';

const MiB = 1024 * 1024;

describe('memoryBudget', () => {
  it('the default ceiling with the default 8 MiB cache: the cache whole, the rest to the heap', () => {
    const b = memoryBudget(DEFAULT_FUSED_MEMORY_LIMIT_BYTES, 8 * MiB);
    expect(b).toEqual({ limitBytes: 256 * MiB, cacheBytes: 8 * MiB, heapMb: 256 - 96 - 2 * 24 - 8, workerHeapMb: 256 - 96 - 2 * 24 - 8, cacheCut: false });
  });

  it('cuts the memory cache, never the heap below its floor', () => {
    const b = memoryBudget(MIN_FUSED_MEMORY_LIMIT_BYTES + 10 * MiB, 64 * MiB);
    expect(b.cacheBytes).toBe(10 * MiB);
    expect(b.heapMb).toBe(MIN_HEAP_BYTES / MiB);
    expect(b.cacheCut).toBe(true);
    expect(memoryBudget(MIN_FUSED_MEMORY_LIMIT_BYTES, 64 * MiB).cacheBytes).toBe(0);
  });

  it('bounds: the parts never pass the ceiling, the heap never below its floor, the cache never above what was asked', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_FUSED_MEMORY_LIMIT_BYTES, max: 1024 * 1024 * MiB }), fc.integer({ min: 0, max: 64 * 1024 * MiB }), (limit, memory) => {
        const b = memoryBudget(limit, memory);
        expect(BASE_BYTES + BUDGET_WORKERS * WORKER_BYTES + b.cacheBytes + b.heapMb * MiB).toBeLessThanOrEqual(limit);
        expect(b.heapMb * MiB).toBeGreaterThanOrEqual(MIN_HEAP_BYTES);
        expect(b.cacheBytes).toBeLessThanOrEqual(memory);
        expect(b.cacheBytes).toBeGreaterThanOrEqual(0);
        expect(b.cacheCut).toBe(b.cacheBytes < memory);
        expect(budgetProblems(limit, memory).length).toBe(b.cacheCut ? 1 : 0);
      }),
    );
  });

  it('refuses a ceiling below the smallest and values that are not byte counts', () => {
    expect(() => memoryBudget(MIN_FUSED_MEMORY_LIMIT_BYTES - 1, 0)).toThrow(/below the smallest ceiling/);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => memoryBudget(bad, 0)).toThrow(RangeError);
      expect(() => memoryBudget(DEFAULT_FUSED_MEMORY_LIMIT_BYTES, bad)).toThrow(RangeError);
    }
  });
});

describe('nodeFlagsOf', () => {
  it('the heap limit and a small young generation', () => {
    expect(nodeFlagsOf(memoryBudget(256 * MiB, 8 * MiB))).toEqual(['--max-old-space-size=104', '--max-semi-space-size=2']);
  });
});

describe('cgroupLimitsOf', () => {
  it('high at the ceiling; max at twice it (two generations share the cgroup) plus the inflation budget (a bomb for a moment)', () => {
    expect(cgroupLimitsOf(256 * MiB, 256 * MiB)).toEqual({ high: 256 * MiB, max: 768 * MiB });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 40 }), (limit, inflate) => {
        const { high, max } = cgroupLimitsOf(limit, inflate);
        expect(high).toBe(limit);
        expect(max).toBeGreaterThanOrEqual(2 * high + inflate);
      }),
    );
    expect(() => cgroupLimitsOf(-1, 0)).toThrow(RangeError);
    expect(() => cgroupLimitsOf(1, 0.5)).toThrow(RangeError);
  });
});

describe('budgetProblems', () => {
  it('names both options, what the cache is cut to and the limit that would fit', () => {
    const [line] = budgetProblems(256 * MiB, 128 * MiB);
    expect(line).toMatch(/fusedMemoryLimitBytes \(256 MiB\) is below what cache\.memoryBytes \(128 MiB\) needs/);
    expect(line).toMatch(/cut to 48 MiB; raise the limit to 336 MiB/);
    expect(budgetProblems(256 * MiB, 8 * MiB)).toEqual([]);
  });
});
