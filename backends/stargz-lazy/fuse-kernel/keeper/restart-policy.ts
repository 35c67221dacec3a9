/**
 * When the keeper starts the served process again. It restarts only while it keeps
 * connections (otherwise nothing needs a server that the daemon would not start itself), and
 * not for the exits that say a restart cannot help: bad usage or configuration (2) and another
 * process serving the root (3). A crash loop is bounded: after `maxRestarts` restarts within
 * `windowMs` the keeper gives up (the kept connections are closed: the kernel then fails their
 * requests with ENOTCONN, as if no keeper were there). Restarts are spaced by a backoff that
 * doubles from `firstDelayMs` within a loop.
 */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type Decision = { restart: true; delayMs: number } | { restart: false; reason: string };

export interface RestartPolicyOptions {
  maxRestarts?: number;
  windowMs?: number;
  firstDelayMs?: number;
  /** Exit codes after which restarting cannot help. */
  permanentCodes?: readonly number[];
}

export class RestartPolicy {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #firstDelayMs: number;
  readonly #permanent: ReadonlySet<number>;
  #restarts: number[] = [];

  constructor(o: RestartPolicyOptions = {}) {
    this.#max = o.maxRestarts ?? 5;
    this.#windowMs = o.windowMs ?? 60_000;
    this.#firstDelayMs = o.firstDelayMs ?? 50;
    this.#permanent = new Set(o.permanentCodes ?? [2, 3]);
  }

  decide(exit: Exit, kept: number, stopping: boolean, now = Date.now()): Decision {
    if (stopping) return { restart: false, reason: 'the keeper was asked to stop' };
    if (kept === 0) return { restart: false, reason: 'no connection kept' };
    if (exit.code !== null && this.#permanent.has(exit.code)) return { restart: false, reason: `exit code ${exit.code} (a restart cannot help)` };
    this.#restarts = this.#restarts.filter((t) => now - t < this.#windowMs);
    if (this.#restarts.length >= this.#max) return { restart: false, reason: `${this.#restarts.length} restarts within ${this.#windowMs} ms` };
    const delayMs = this.#firstDelayMs * 2 ** this.#restarts.length;
    this.#restarts.push(now);
    return { restart: true, delayMs };
  }
}
