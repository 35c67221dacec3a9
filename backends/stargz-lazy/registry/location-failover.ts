/**
 * The places one blob can be fetched from (mirrors in order, the registry, then the layer's
 * URLs), tried in turn: each with retries and backoff (options.retry), starting with the one
 * that served last; the one that serves is logged when it changes. NotFoundError and
 * UnavailableError move on to the next place; the first failure is what is thrown.
 */
import { NotFoundError, UnavailableError } from '../../../core/sdk.js';
import type { BlobLocation, BlobTransport } from './blob-transport.js';
import { withRetry } from './retry.js';

export class LocationFailover {
  #preferred = 0;
  /** The location that served last, to log when it changes. */
  #servedBy: number | undefined;

  constructor(
    private readonly client: BlobTransport,
    private readonly digest: string,
    readonly locations: readonly BlobLocation[],
  ) {}

  /** The location tried first: the one that served last. */
  get preferred(): BlobLocation {
    return this.locations[this.#preferred]!;
  }

  /** Runs `op` with retries at each location in turn, starting with the last one that worked. */
  async run<T>(signal: AbortSignal | undefined, op: (loc: BlobLocation, s: AbortSignal) => Promise<T>): Promise<T> {
    let first: unknown;
    const n = this.locations.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#preferred + i) % n;
      const loc = this.locations[index]!;
      try {
        const result = await withRetry(this.client.options.retry, loc.what, (s) => op(loc, s), {
          signal,
          onRetry: (err, attempt, delayMs) =>
            this.client.log.warn({ blob: this.digest, url: loc.url, attempt, delayMs, reason: err.message }, 'registry request failed; retrying'),
        });
        this.#preferred = index;
        if (this.#servedBy !== index) this.#logServed(index, i);
        return result;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof NotFoundError || err instanceof UnavailableError)) throw err;
        first ??= err;
        if (i + 1 < n) this.client.log.warn({ blob: this.digest, url: loc.url, reason: err.message }, 'blob location failed; trying the next');
      }
    }
    throw first;
  }

  /** Which endpoint serves this blob: info when there was a choice (mirrors, URLs), else debug. */
  #logServed(index: number, passedOver: number): void {
    this.#servedBy = index;
    const loc = this.locations[index]!;
    const fields = { blob: this.digest, endpoint: loc.origin, role: loc.role ?? 'upstream', passedOver };
    if (this.locations.length > 1) this.client.log.info(fields, `blob served by ${loc.role ?? 'upstream'} ${loc.origin}`);
    else this.client.log.debug(fields, 'blob served');
  }
}
