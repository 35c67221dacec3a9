/**
 * Retries with exponential backoff and jitter, bounded in count and in total time. An attempt
 * asks for a retry by throwing `Retryable` around the error it would otherwise fail with; any
 * other throw ends at once. The total time is a hard bound: the attempt in flight is aborted
 * when it runs out, so a hanging server never holds a reader longer than `totalMs`.
 */
import { UnavailableError } from '../../../core/sdk.js';
import type { RetryOptions } from './options.js';

/** Thrown by an attempt whose failure may pass (network error, timeout, 5xx, 429). */
export class Retryable extends Error {
  constructor(
    /** What to fail with when no retry is left. */
    readonly error: Error,
    /** The server's `Retry-After`, if it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(error.message, { cause: error });
  }
}

export interface RetryHooks {
  signal?: AbortSignal | undefined;
  /** Called before each backoff sleep. */
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
  /** Source of jitter in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Backoff before retry number `attempt` (1-based): doubling from baseDelayMs, jittered to 50–100 %. */
export function backoffDelay(policy: RetryOptions, attempt: number, random: () => number = Math.random): number {
  const full = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(full / 2 + (full / 2) * random());
}

/**
 * Runs `attempt` until it succeeds, throws something that is not `Retryable`, or the policy is
 * spent. `what` names the operation (host and digest) in the error when time runs out.
 */
export async function withRetry<T>(
  policy: RetryOptions,
  what: string,
  attempt: (signal: AbortSignal, n: number) => Promise<T>,
  hooks: RetryHooks = {},
): Promise<T> {
  const started = Date.now();
  const deadline = AbortSignal.timeout(policy.totalMs);
  const signal = hooks.signal ? AbortSignal.any([hooks.signal, deadline]) : deadline;
  let last: Error | undefined;
  for (let n = 1; ; n++) {
    try {
      signal.throwIfAborted();
      return await attempt(signal, n);
    } catch (err) {
      if (hooks.signal?.aborted) throw hooks.signal.reason;
      if (deadline.aborted) {
        // The attempt in flight was cut off; its own error is only the abort.
        const why = last ? `; last error: ${last.message}` : '; no answer';
        throw new UnavailableError(`${what}: gave up after ${policy.totalMs} ms (${n} attempt${n === 1 ? '' : 's'})${why}`, {
          cause: last ?? err,
        });
      }
      if (!(err instanceof Retryable)) throw err;
      last = err.error;
      if (n > policy.retries) throw err.error;
      const delay = Math.max(backoffDelay(policy, n, hooks.random), Math.min(err.retryAfterMs ?? 0, policy.maxDelayMs));
      if (Date.now() - started + delay >= policy.totalMs) throw err.error;
      hooks.onRetry?.(err.error, n, delay);
      await sleep(delay, signal).catch(() => {
        if (hooks.signal?.aborted) throw hooks.signal.reason;
        throw err.error;
      });
    }
  }
}

/** Resolves after `ms`, rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
