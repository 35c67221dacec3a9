/**
 * `snaphost wait-ready`: wait, bounded, until the sockets of a config's backends accept
 * connections, so that systemd reports snaphost started (and starts containerd) only once
 * containerd can reach every snapshotter.
 *
 * - A required backend must accept by the deadline, or the wait fails naming it.
 * - An optional backend may fail to start without stopping the daemon, so it is waited for only
 *   while a required one is still pending; then it is reported as it is. (With no required
 *   backend at all, they are waited for until the deadline and at least one must accept.)
 * - A backend whose module does not load is not waited for: optional, it is reported; required,
 *   the daemon cannot start and the wait fails at once.
 * A socket file without a listener (left by a daemon that died) refuses connections: not ready.
 */
import { connect } from 'node:net';
import type { ResolvedBackend, ResolvedConfig } from '../config/resolved-config.js';
import { describe, UnavailableError } from '../contract/errors.js';

export interface WaitReadyOptions {
  timeoutMs: number;
  /** Between two connection attempts to one socket. */
  intervalMs?: number;
  signal?: AbortSignal;
}

export type SocketState = 'ready' | 'not-ready' | 'not-loaded';

export interface SocketReport {
  name: string;
  socket: string;
  optional: boolean;
  state: SocketState;
  /** When it first accepted, in ms since the wait began. */
  afterMs?: number;
  /** The last reason it was not ready (ENOENT, ECONNREFUSED, …) or why it did not load. */
  reason?: string;
}

export interface WaitReadyResult {
  ok: boolean;
  backends: SocketReport[];
}

const ATTEMPT_TIMEOUT_MS = 1000;

export async function waitReady(config: ResolvedConfig, o: WaitReadyOptions): Promise<WaitReadyResult> {
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  const interval = o.intervalMs ?? 100;
  const reports: SocketReport[] = config.backends.map((b) => initialReport(b));
  const pending = () => reports.filter((r) => r.state === 'not-ready');
  /** One connection attempt; records the socket as ready, or why not. */
  const probe = async (r: SocketReport, timeoutMs: number): Promise<void> => {
    const err = await tryConnect(r.socket, timeoutMs);
    if (err === undefined) {
      r.state = 'ready';
      r.afterMs = Date.now() - started;
      delete r.reason;
    } else {
      r.reason = err;
    }
  };
  const required = reports.filter((r) => !r.optional);
  // A required backend that does not load stops the daemon: nothing to wait for.
  const hopeless = required.some((r) => r.state === 'not-loaded');
  const waitingFor = () => {
    const p = pending();
    if (hopeless) return [];
    if (required.length > 0) return p.some((r) => !r.optional) ? p : [];
    return reports.some((r) => r.state === 'ready') ? [] : p;
  };

  for (let batch = waitingFor(); batch.length > 0; batch = waitingFor()) {
    o.signal?.throwIfAborted();
    await Promise.all(
      batch.map((r) => probe(r, Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now())))),
    );
    if (waitingFor().length === 0 || Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), o.signal);
  }
  // The ones not waited for get one look, so the report says how they are.
  await Promise.all(
    pending().map((r) => probe(r, 200)),
  );
  const ok = required.length > 0 ? required.every((r) => r.state === 'ready') : reports.some((r) => r.state === 'ready');
  return { ok, backends: reports };
}

/** The lines `snaphost wait-ready` prints, one per backend. */
export function formatWaitReady(result: WaitReadyResult, timeoutMs: number): string[] {
  const lines = result.backends.map((r) => {
    const tag = r.optional ? ' (optional)' : '';
    if (r.state === 'ready') return `  ready      ${r.name}${tag}  ${r.socket}  after ${r.afterMs} ms`;
    if (r.state === 'not-loaded') return `  not-loaded ${r.name}${tag}  ${r.reason}`;
    return `  NOT READY  ${r.name}${tag}  ${r.socket}: ${r.reason ?? 'not tried'}`;
  });
  lines.push(result.ok ? 'result: ready' : `result: not ready within ${span(timeoutMs)}`);
  return lines;
}

/** Why a run of waitReady failed, as one error (the CLI's exit 1). */
export function notReadyError(result: WaitReadyResult, timeoutMs: number): UnavailableError {
  const required = result.backends.filter((r) => !r.optional);
  const unloaded = required.filter((r) => r.state === 'not-loaded');
  const culprits = unloaded.length > 0 ? unloaded : (required.length > 0 ? required : result.backends).filter((r) => r.state !== 'ready');
  const what = culprits.map((r) => `${r.name} (${r.state === 'not-loaded' ? r.reason : `${r.socket}: ${r.reason ?? 'not tried'}`})`).join(', ');
  return new UnavailableError(`not ready within ${span(timeoutMs)}: ${what}`);
}

function span(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

function initialReport(b: ResolvedBackend): SocketReport {
  const r: SocketReport = { name: b.name, socket: b.socket, optional: b.optional, state: 'not-ready' };
  if (b.error) {
    r.state = 'not-loaded';
    r.reason = describe(b.error);
  }
  return r;
}

/** One connection attempt to a unix socket: undefined when it accepts, else why not (ENOENT, ECONNREFUSED, no answer). */
export function tryConnect(socket: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((done) => {
    const s = connect({ path: socket });
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    function finish(result: string | undefined) {
      clearTimeout(timer);
      s.removeAllListeners();
      s.on('error', () => {});
      s.destroy();
      done(result);
    }
    s.once('connect', () => finish(undefined));
    s.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done, fail) => {
    const onAbort = () => {
      clearTimeout(t);
      fail(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      done();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
