/**
 * The backends' status for scrapes, whatever the scrape rate. A status may be expensive (the
 * stargz-lazy one walks its root on disk and asks its FUSE process), and the endpoint may be
 * reachable beyond loopback, so per backend:
 *
 * - **Rate-limited**: a status is collected at most once per `minIntervalMs`; scrapes in
 *   between are answered from the last collection.
 * - **Single-flight**: scrapes that come while a collection runs wait for that one.
 * - **Bounded**: a status that has not answered within `timeoutMs` fails that collection (the
 *   backend's `up` is 0; its signal is aborted so it can stop working) and the scrape goes on.
 *   The last status that did answer is still served, with its age (`status_age_seconds`), so
 *   a slow backend's series do not vanish. A new collection starts only once the late call has
 *   settled: a backend that ignores its signal never has two calls running.
 *
 * A status that throws, rejects or is late is a failed report, never a failed scrape.
 */
import { performance } from 'node:perf_hooks';
import { UnavailableError, describe } from '../contract/errors.js';
import type { SnapshotterStatus } from '../contract/snapshotter.js';

export type StatusSource = (signal: AbortSignal) => Promise<SnapshotterStatus>;

export interface StatusReport {
  backend: string;
  /** The last collection answered in time (`snaphost_backend_up`). */
  up: boolean;
  /** How long the last collection took (to answer, fail or time out). */
  seconds: number;
  /** Why the last collection failed (when `up` is false). */
  error?: string;
  /** The last status that answered (absent when none ever did); outside input, checked by status-families.ts. */
  status?: unknown;
  /** Seconds since `status` was collected. */
  ageSeconds?: number;
}

export interface StatusCollectorOptions {
  /** A status call slower than this fails its collection (ms). */
  timeoutMs: number;
  /** A backend's status is collected at most once per this long (ms); 0: at every scrape (still single-flight). */
  minIntervalMs: number;
  /** Called once per failed or late collection (a counter of failures). */
  onFailure?: (backend: string, error: string) => void;
  now?: () => number;
}

interface Entry {
  /** The last finished collection: when, how long, and its error if it failed. */
  last?: { at: number; seconds: number; error?: string };
  /** The last status that answered, and when. */
  answered?: { at: number; status: SnapshotterStatus };
  /** The running collection (settles when the status answers, fails or is late). */
  collecting?: Promise<void>;
  /** The status call is still running (also after it was late). */
  calling: boolean;
}

export class StatusCollector {
  readonly #o: StatusCollectorOptions;
  readonly #now: () => number;
  /** Per source function: a restarted backend (a new source) starts afresh. */
  readonly #entries = new WeakMap<StatusSource, Entry>();

  constructor(o: StatusCollectorOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Every source's report, in parallel; each waits at most about `timeoutMs`. */
  collect(sources: Iterable<[string, StatusSource]>): Promise<StatusReport[]> {
    return Promise.all([...sources].map(([backend, source]) => this.#one(backend, source)));
  }

  async #one(backend: string, source: StatusSource): Promise<StatusReport> {
    let e = this.#entries.get(source);
    if (e === undefined) {
      e = { calling: false };
      this.#entries.set(source, e);
    }
    const due = e.last === undefined || this.#now() - e.last.at >= this.#o.minIntervalMs;
    if (e.collecting === undefined && !e.calling && due) e.collecting = this.#start(backend, source, e);
    if (e.collecting !== undefined) await e.collecting;
    return this.#report(backend, e);
  }

  #start(backend: string, source: StatusSource, e: Entry): Promise<void> {
    const started = this.#now();
    const controller = new AbortController();
    e.calling = true;
    const call = Promise.resolve().then(() => source(controller.signal));
    // A late answer is still the freshest status there is.
    void call.then(
      (status) => (e.answered = { at: this.#now(), status }),
      () => undefined,
    );
    void call.finally(() => (e.calling = false)).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new UnavailableError(`status() did not answer within ${this.#o.timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, this.#o.timeoutMs);
    });
    return Promise.race([call, late]).then(
      () => {
        clearTimeout(timer);
        e.last = { at: this.#now(), seconds: (this.#now() - started) / 1000 };
        e.collecting = undefined;
      },
      (err: unknown) => {
        clearTimeout(timer);
        const error = describe(err);
        e.last = { at: this.#now(), seconds: (this.#now() - started) / 1000, error };
        e.collecting = undefined;
        this.#o.onFailure?.(backend, error);
      },
    );
  }

  #report(backend: string, e: Entry): StatusReport {
    const last = e.last!;
    const r: StatusReport = { backend, up: last.error === undefined, seconds: last.seconds };
    if (last.error !== undefined) r.error = last.error;
    if (e.answered !== undefined) {
      r.status = e.answered.status;
      r.ageSeconds = Math.max(0, (this.#now() - e.answered.at) / 1000);
    }
    return r;
  }
}
