/**
 * The daemon: wiring only. For each resolved backend: create the instance, give it a
 * CallTracker, wrap it in the shared adapter and serve it on its own unix socket. A backend
 * that cannot start stops startup (after stopping what already started) unless it is
 * `optional`, in which case it is logged, recorded in `status` and the others serve.
 *
 * Shutdown (idempotent, all backends in parallel): stop accepting, let in-flight calls finish
 * for at most `shutdownTimeoutMs`, abort the rest (their `Call.signal` fires), close the
 * server, close the instance (bounded), and the socket is removed.
 */
import type * as grpc from '@grpc/grpc-js';
import { inBackend } from './backend/backend-scope.js';
import { closeInstance } from './backend/close-instance.js';
import { createBackend } from './backend/create-backend.js';
import { installProcessGuards } from './backend/process-guards.js';
import { lockRoot, type RootLock } from './backend/root-lock.js';
import { loadFailures } from './config/resolve-config.js';
import type { ResolvedBackend, ResolvedConfig } from './config/resolved-config.js';
import { describe, UnavailableError } from './errors.js';
import { CallTracker } from './grpc/call-tracker.js';
import { claimSocket, serveUnix, type UnixServer } from './grpc/serve-unix.js';
import { fromSnapshotter } from './grpc/snapshots-service.js';
import type { Logger } from './logger.js';
import type { Snapshotter } from './snapshots/snapshotter.js';

export type BackendState = 'starting' | 'serving' | 'failed' | 'stopping' | 'stopped';

export interface BackendStatus {
  name: string;
  use: string;
  socket: string;
  root: string;
  optional: boolean;
  state: BackendState;
  /** Why it failed (state `failed`), or what went wrong while stopping. */
  error?: string;
}

export interface Daemon {
  /** One entry per configured backend, in config order. */
  readonly status: readonly BackendStatus[];
  /** Stop every backend. Idempotent: later calls return the same promise. */
  stop(): Promise<void>;
}

interface Running {
  backend: ResolvedBackend;
  status: BackendStatus;
  log: Logger;
  calls: CallTracker;
  instance: Snapshotter;
  server: UnixServer;
  lock: RootLock;
}

export async function startDaemon(config: ResolvedConfig, opts: { log: Logger }): Promise<Daemon> {
  const { log } = opts;
  const status: BackendStatus[] = config.backends.map((b) => ({
    name: b.name,
    use: b.use,
    socket: b.socket,
    root: b.root,
    optional: b.optional,
    state: 'starting',
  }));
  const { fatal } = loadFailures(config);
  if (fatal.length > 0) {
    for (const b of fatal) log.error({ backend: b.name, err: b.error }, `backend ${b.name} failed to load`);
    throw fatal[0]!.error!;
  }

  const results = await Promise.allSettled(config.backends.map((b, i) => startBackend(config, b, status[i]!, log)));
  const running = results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  let firstFatal: unknown;
  results.forEach((r, i) => {
    const b = config.backends[i]!;
    if (r.status === 'fulfilled') return;
    status[i]!.state = 'failed';
    status[i]!.error = describe(r.reason);
    if (b.optional) {
      log.error({ backend: b.name, err: r.reason }, `optional backend ${b.name} failed to start; the other backends keep serving`);
    } else {
      log.error({ backend: b.name, err: r.reason }, `backend ${b.name} failed to start`);
      firstFatal ??= r.reason;
    }
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= Promise.all(running.map((r) => stopBackend(r, config.shutdownTimeoutMs))).then(() => undefined));
  if (firstFatal !== undefined) {
    await stop();
    throw firstFatal;
  }
  return { status, stop };
}

async function startBackend(config: ResolvedConfig, b: ResolvedBackend, status: BackendStatus, root: Logger): Promise<Running | undefined> {
  if (b.error) {
    // Only optional backends get here (fatal load failures stop startup before).
    throw b.error;
  }
  // The root logger is at config.logLevel; only an entry's own logLevel changes its child's.
  const log = b.logLevel === config.logLevel ? root.child({ backend: b.name }) : root.child({ backend: b.name }, { level: b.logLevel });
  // Before create() touches anything: refuse a socket a live process serves, and claim the root.
  await claimSocket(b.socket, log);
  const lock = await lockRoot(b.name, b.root);
  const calls = new CallTracker();
  let instance: Snapshotter;
  try {
    instance = await createBackend({
      name: b.name,
      root: b.root,
      definition: b.definition!,
      options: b.options,
      log,
      timeoutMs: config.createTimeoutMs,
      signal: calls.signal,
    });
  } catch (err) {
    await lock.release();
    throw err;
  }
  let server: UnixServer;
  try {
    const implementation = withBackendScope(b.name, fromSnapshotter(instance, { backend: b.name, log, calls }));
    server = await serveUnix({ socket: b.socket, mode: config.socketMode, implementation, log });
  } catch (err) {
    calls.abort(new UnavailableError('the backend failed to start'));
    await closeInstance(instance, b.name, config.shutdownTimeoutMs).catch((closeErr: unknown) =>
      log.error({ err: closeErr }, 'closing the instance after a failed start failed'),
    );
    await lock.release();
    throw err;
  }
  status.state = 'serving';
  log.info({ socket: b.socket, use: b.use, root: b.root }, `serving ${b.name} on ${b.socket}`);
  return { backend: b, status, log, calls, instance, server, lock };
}

async function stopBackend(r: Running, timeoutMs: number): Promise<void> {
  const { log, calls, server, instance, status } = r;
  status.state = 'stopping';
  const errors: string[] = [];
  // close() stops accepting at once and waits for in-flight calls until the grace period ends.
  const closing = server.close(timeoutMs).catch((err: unknown) => {
    errors.push(`closing the server: ${describe(err)}`);
    log.error({ err }, 'closing the server failed');
  });
  if (calls.inFlight > 0) log.info({ inFlight: calls.inFlight }, 'waiting for calls in flight');
  const drained = await calls.drain(timeoutMs);
  if (!drained) log.warn({ inFlight: calls.inFlight, timeoutMs }, 'calls still in flight after the shutdown timeout; cancelling them');
  calls.abort(new UnavailableError('snaphost is shutting down'));
  await closing;
  try {
    await closeInstance(instance, r.backend.name, timeoutMs);
  } catch (err) {
    errors.push(`close(): ${describe(err)}`);
    log.error({ err }, 'closing the backend failed');
  }
  await r.lock.release().catch((err: unknown) => errors.push(`releasing the root lock: ${describe(err)}`));
  status.state = 'stopped';
  if (errors.length > 0) status.error = errors.join('; ');
  log.info('stopped');
}

/** Run every handler inside the backend's async scope (see backend-scope.ts). */
function withBackendScope(backend: string, impl: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
  const wrapped: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(impl)) {
    wrapped[method] = ((...args: unknown[]) => inBackend(backend, () => (handler as (...a: unknown[]) => unknown)(...args))) as typeof handler;
  }
  return wrapped;
}

/**
 * The daemon as a process: guards against backend bugs, starts every backend, logs what
 * serves where, and stops on SIGTERM/SIGINT (a second signal exits at once). Resolves with
 * the exit code.
 */
export async function runDaemon(config: ResolvedConfig, opts: { log: Logger }): Promise<number> {
  const { log } = opts;
  const guards = installProcessGuards(log);
  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, `second ${signal}: exiting now without waiting for the backends`);
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    signalled = signal;
    wake?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    log.info({ config: config.file, backends: config.backends.length }, 'snaphost starting');
    const daemon = await startDaemon(config, { log });
    const serving = daemon.status.filter((s) => s.state === 'serving');
    log.info(
      { serving: serving.map((s) => ({ backend: s.name, socket: s.socket })), failed: daemon.status.filter((s) => s.state === 'failed').map((s) => s.name) },
      `snaphost serving ${serving.length} backend(s)`,
    );
    if (!signalled) await new Promise<void>((res) => (wake = res));
    log.info({ signal: signalled }, `${signalled}: shutting down (waiting up to ${config.shutdownTimeoutMs} ms for calls in flight)`);
    await daemon.stop();
    const problems = daemon.status.filter((s) => s.error !== undefined && s.state === 'stopped');
    log.info(problems.length > 0 ? { problems } : {}, 'snaphost stopped');
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    guards.uninstall();
  }
}
