import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../../core/sdk.js';
import { Retryable, backoffDelay, withRetry } from '../../../../../backends/stargz-lazy/registry/retry.js';

const policy = { retries: 3, baseDelayMs: 10, maxDelayMs: 40, totalMs: 5000 };

describe('backoffDelay', () => {
  it('doubles up to the cap, jittered between half and full', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, () => 0))).toEqual([5, 10, 20, 20, 20]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, () => 0.999999))).toEqual([10, 20, 40, 40, 40]);
  });
});

describe('withRetry', () => {
  it('retries Retryable failures, then succeeds', async () => {
    const seen: number[] = [];
    const result = await withRetry(policy, 'op', async (_s, n) => {
      seen.push(n);
      if (n < 3) throw new Retryable(new UnavailableError(`fail ${n}`));
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('stops after the retry count with the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(policy, 'op', async () => {
        calls++;
        throw new Retryable(new UnavailableError(`fail ${calls}`));
      }),
    ).rejects.toThrow('fail 4');
    expect(calls).toBe(4);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    await expect(
      withRetry(policy, 'op', async () => {
        calls++;
        throw new Error('final');
      }),
    ).rejects.toThrow('final');
    expect(calls).toBe(1);
  });

  it('aborts a hanging attempt at the total time bound', async () => {
    const started = Date.now();
    const err = await withRetry({ ...policy, totalMs: 200 }, 'blob X at host Y', (signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason)))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/^blob X at host Y: gave up after 200 ms \(1 attempt\); no answer$/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("rejects with the caller's abort reason", async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    setTimeout(() => controller.abort(reason), 20);
    await expect(
      withRetry(policy, 'op', async () => {
        throw new Retryable(new UnavailableError('again'));
      }, { signal: controller.signal }),
    ).rejects.toBe(reason);
  });
});
