/**
 * One backend while the daemon serves it: `startBackend` claims its socket and root, creates
 * the instance, wraps it in the shared adapter (inside the backend's async scope, observed by
 * the metrics) and serves it; `stopBackend` stops accepting, drains calls in flight (bounded),
 * cancels the rest, closes the instance and releases the root. The daemon (core/daemon.ts)
 * decides when; this file is how.
 */
import type * as grpc from '@grpc/grpc-js';
import type { ResolvedBackend, ResolvedConfig } from '../config/resolved-config.js';
import { describe, UnavailableError } from '../contract/errors.js';
import { CallTracker } from '../grpc/call-tracker.js';
import { claimSocket, serveUnix, type UnixServer } from '../grpc/serve-unix.js';
import { fromSnapshotter } from '../grpc/snapshots-service.js';
import { linkImageFs } from '../image-fs/link-image-fs.js';
import type { Logger } from '../logger.js';
import type { SnaphostMetrics } from '../metrics/snaphost-metrics.js';
import type { Snapshotter, SnapshotterStatus } from '../contract/snapshotter.js';
import { collectStatus } from '../status/collect-status.js';
import { inBackend } from './backend-scope.js';
import { closeInstance } from './close-instance.js';
import { createBackend } from './create-backend.js';
import { lockRoot, type RootLock } from './root-lock.js';
import type { RegistryCredentialSource } from '../contract/registry-credentials.js';

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

export interface RunningBackend {
  backend: ResolvedBackend;
  status: BackendStatus;
  log: Logger;
  calls: CallTracker;
  instance: Snapshotter;
  server: UnixServer;
  lock: RootLock;
  /** Removes the backend from the metrics endpoint (a no-op without metrics). */
  unregisterMetrics: () => void;
}

export interface StartBackendOptions {
  log: Logger;
  metrics?: SnaphostMetrics;
  /** Credentials learned by the CRI proxy, for every backend (`ctx.registryCredentials`). */
  registryCredentials?: RegistryCredentialSource;
}

export async function startBackend(config: ResolvedConfig, b: ResolvedBackend, status: BackendStatus, opts: StartBackendOptions): Promise<RunningBackend> {
  const { log: root, metrics } = opts;
  if (b.error) {
    // Only optional backends get here (fatal load failures stop startup before).
    throw b.error;
  }
  // The root logger is at config.logLevel; only an entry's own logLevel changes its child's.
  // (A reload that changes the resolved level sets it on this child: see core/reload/reload-daemon.ts.)
  const log = b.logLevel === config.logLevel ? root.child({ backend: b.name }) : root.child({ backend: b.name }, { level: b.logLevel });
  // Before create() touches anything: refuse a socket a live process serves, and claim the root.
  await claimSocket(b.socket, log);
  const lock = await lockRoot(b.name, b.root);
  const calls = new CallTracker();
  let instance: Snapshotter;
  try {
    instance = await createBackend({
      name: b.name,
      index: b.index,
      root: b.root,
      definition: b.definition!,
      options: b.options,
      log,
      timeoutMs: config.createTimeoutMs,
      signal: calls.signal,
      ...(opts.registryCredentials ? { registryCredentials: opts.registryCredentials } : {}),
    });
  } catch (err) {
    await lock.release();
    throw err;
  }
  let server: UnixServer;
  try {
    const observe = metrics?.rpcObserver(b.name);
    const implementation = withBackendScope(b.name, fromSnapshotter(instance, { backend: b.name, log, calls, limits: config.limits, ...(observe ? { observe } : {}) }));
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
  if (config.containerdRoot !== undefined) await keepImageFsLink(config.containerdRoot, b, log);
  const unregisterMetrics =
    metrics?.addBackend(b.name, metricsSource(b.name, instance, b.root, log, calls)) ?? (() => undefined);
  return { backend: b, status, log, calls, instance, server, lock, unregisterMetrics };
}

/** A measured root size is reused for this long by the metrics endpoint (a walk of the root per scrape is too much). */
const METRICS_DISK_REUSE_MS = 60_000;

/**
 * What the metrics endpoint asks of a backend at each scrape: its status, filled in by the
 * host; it throws when the backend's own `status()` failed, so `snaphost_backend_up` is 0.
 */
function metricsSource(name: string, instance: Snapshotter, root: string, log: Logger, calls: CallTracker): (signal: AbortSignal) => Promise<SnapshotterStatus> {
  let disk: { at: number; bytes: number } | undefined;
  return async (signal) => {
    const fresh = disk !== undefined && Date.now() - disk.at < METRICS_DISK_REUSE_MS;
    const c = await inBackend(name, () => collectStatus({ instance, root, log, signal, run: (fn) => calls.run(fn), measureDisk: !fresh }));
    if (c.statusFailed !== undefined) throw new Error(c.statusFailed);
    if (c.diskSource === 'measured' && c.diskBytes !== undefined) disk = { at: Date.now(), bytes: c.diskBytes };
    const diskBytes = c.diskBytes ?? (fresh ? disk?.bytes : undefined);
    return { snapshots: c.snapshots, diskBytes, layers: c.layers, metrics: c.metrics };
  };
}

export async function stopBackend(r: RunningBackend, timeoutMs: number): Promise<void> {
  const { log, calls, server, instance, status } = r;
  status.state = 'stopping';
  r.unregisterMetrics();
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
 * kubelet's image file system path for this backend (core/image-fs/link-image-fs.ts). Logged, never
 * fatal: the snapshotter works without it; only kubelet's image-fs stats of it do not.
 */
async function keepImageFsLink(containerdRoot: string, b: ResolvedBackend, log: Logger): Promise<void> {
  try {
    const r = await linkImageFs(containerdRoot, b.name, b.root);
    if (r.action === 'skipped') log.warn({ path: r.path }, r.reason);
    else if (r.action === 'replaced') log.info({ path: r.path, previous: r.previous }, `image-fs link ${r.path} -> ${b.root} (was -> ${r.previous})`);
    else log.debug({ path: r.path, action: r.action }, `image-fs link ${r.path} -> ${b.root}`);
  } catch (err) {
    log.warn({ err }, `cannot keep the image-fs link for kubelet under containerd's root ${containerdRoot}: ${describe(err)}`);
  }
}
