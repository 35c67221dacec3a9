/**
 * The daemon: wiring only. For each resolved backend: start it (core/backend/run-backend.ts:
 * create the instance, wrap it in the shared adapter, serve it on its own unix socket). A backend
 * that cannot start stops startup (after stopping what already started) unless it is
 * `optional`, in which case it is logged, recorded in `status` and the others serve.
 *
 * Reload (`reload()`, serialized): the new config is loaded and validated whole; when it is
 * invalid nothing changes. Otherwise, by instance name (core/reload/diff-config.ts): removed
 * and changed backends are drained and stopped, then changed and added ones (and ones that
 * had failed) start; a log-level change is applied to the running instance; unchanged
 * backends are not touched at all: their servers, sockets and calls in flight go on.
 *
 * Shutdown (idempotent, all backends in parallel, after a reload in progress): stop
 * accepting, let in-flight calls finish for at most `shutdownTimeoutMs`, abort the rest
 * (their `Call.signal` fires), close the server, close the instance (bounded), and the
 * socket is removed.
 */
import { chmod } from 'node:fs/promises';
import { adminSocketFor } from './admin/admin-protocol.js';
import { serveAdmin, type AdminServer } from './admin/admin-server.js';
import { inBackend } from './backend/backend-scope.js';
import { installProcessGuards } from './backend/process-guards.js';
import { startBackend, stopBackend, type BackendStatus, type RunningBackend } from './backend/run-backend.js';
import { loadFailures } from './config/resolve-config.js';
import type { ResolvedBackend, ResolvedConfig } from './config/resolved-config.js';
import { ConfigError, describe, UnavailableError } from './contract/errors.js';
import type { Logger } from './logger.js';
import { serveMetrics, type MetricsServer } from './metrics/serve-metrics.js';
import { SnaphostMetrics } from './metrics/snaphost-metrics.js';
import { diffConfig } from './reload/diff-config.js';
import { formatReloadResult, rejectedReload, type ReloadResult } from './reload/reload-result.js';
import { collectStatus } from './status/collect-status.js';
import type { BackendReport, DaemonReport } from './status/status-report.js';

export interface Daemon {
  /** One entry per configured backend, in the order of the current config. */
  readonly status: readonly BackendStatus[];
  /** The config being served (the last one a reload accepted). */
  readonly config: ResolvedConfig;
  /**
   * Load a new config with `load` and apply it (see the file comment). Serialized: a reload
   * waits for the one before. Never throws: a rejected config is a result with `rejected`.
   */
  reload(load: () => Promise<ResolvedConfig>): Promise<ReloadResult>;
  /** Every backend's state, with snapshot counts, disk use and layers of the serving ones. */
  report(signal?: AbortSignal): Promise<BackendReport[]>;
  /** Stop every backend. Idempotent: later calls return the same promise. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  log: Logger;
  /** Count every RPC and report every running backend's status at scrapes. */
  metrics?: SnaphostMetrics;
}

/** One configured backend: its status, and the running instance when it serves. */
interface Slot {
  backend: ResolvedBackend;
  status: BackendStatus;
  running?: RunningBackend;
}

export async function startDaemon(config: ResolvedConfig, opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const { fatal } = loadFailures(config);
  if (fatal.length > 0) {
    for (const b of fatal) log.error({ backend: b.name, err: b.error }, `backend ${b.name} failed to load`);
    throw fatal[0]!.error!;
  }
  const slots = config.backends.map((b) => ({ backend: b, status: newStatus(b) }) as Slot);
  const results = await Promise.allSettled(slots.map((s) => startBackend(config, s.backend, s.status, opts)));
  let firstFatal: unknown;
  results.forEach((r, i) => {
    const slot = slots[i]!;
    if (r.status === 'fulfilled') {
      slot.running = r.value;
      return;
    }
    markFailed(slot, r.reason, log);
    if (!slot.backend.optional) firstFatal ??= r.reason;
  });
  const daemon = new RunningDaemon(config, slots, opts);
  if (firstFatal !== undefined) {
    await daemon.stop();
    throw firstFatal;
  }
  return daemon;
}

class RunningDaemon implements Daemon {
  #config: ResolvedConfig;
  #slots: Slot[];
  readonly #log: Logger;
  readonly #opts: DaemonOptions;
  #queue: Promise<unknown> = Promise.resolve();
  #stopping: Promise<void> | undefined;

  constructor(config: ResolvedConfig, slots: Slot[], opts: DaemonOptions) {
    this.#config = config;
    this.#slots = slots;
    this.#log = opts.log;
    this.#opts = opts;
  }

  get status(): readonly BackendStatus[] {
    return this.#slots.map((s) => s.status);
  }

  get config(): ResolvedConfig {
    return this.#config;
  }

  reload(load: () => Promise<ResolvedConfig>): Promise<ReloadResult> {
    const result = this.#queue.then(() => this.#reload(load));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  stop(): Promise<void> {
    // After a reload in progress, so no backend is started behind the stop's back.
    this.#stopping ??= this.#queue.then(async () => {
      await Promise.all(this.#slots.flatMap((s) => (s.running ? [stopBackend(s.running, this.#config.shutdownTimeoutMs)] : [])));
    });
    return this.#stopping;
  }

  async report(signal?: AbortSignal): Promise<BackendReport[]> {
    return Promise.all(this.#slots.map((s) => reportBackend(s, signal)));
  }

  async #reload(load: () => Promise<ResolvedConfig>): Promise<ReloadResult> {
    const log = this.#log;
    const file = this.#config.file;
    if (this.#stopping) return rejectedReload('the daemon is stopping', file);
    let next: ResolvedConfig;
    try {
      next = await load();
      const { fatal } = loadFailures(next);
      if (fatal.length > 0) throw new ConfigError(fatal.map((b) => ({ path: `backends[${b.index}].use`, message: describe(b.error) })), next.file);
    } catch (err) {
      log.error({ err }, 'reload rejected; the running config keeps serving');
      return rejectedReload(describe(err), file);
    }
    const diff = diffConfig(this.#config, next);
    const old = new Map(this.#slots.map((s) => [s.backend.name, s]));
    const restart = diff.changed.filter((c) => c.restart);
    // Kept backends that are not serving (one that failed to start) get another try.
    const retry = [...diff.unchanged, ...diff.changed.filter((c) => !c.restart).map((c) => c.after)].filter((b) => !old.get(b.name)!.running);
    const toStop = [...diff.removed, ...restart.map((c) => c.before)].flatMap((b) => old.get(b.name)?.running ?? []);
    log.info(
      {
        added: diff.added.map((b) => b.name),
        removed: diff.removed.map((b) => b.name),
        restart: restart.map((c) => ({ backend: c.after.name, fields: c.fields })),
        unchanged: diff.unchanged.map((b) => b.name),
      },
      'reloading',
    );
    await Promise.all(toStop.map((r) => stopBackend(r, next.shutdownTimeoutMs)));

    this.#applySettings(next, diff.settings);
    for (const c of diff.changed.filter((c) => !c.restart)) {
      const slot = old.get(c.after.name)!;
      if (slot.running) slot.running.log.level = c.after.logLevel;
      slot.backend = c.after;
    }
    const slots = next.backends.map((b) => {
      const keep = old.get(b.name);
      const fresh = !keep || restart.some((c) => c.after.name === b.name) || retry.includes(b);
      if (!fresh) {
        keep.backend = b;
        return keep;
      }
      return { backend: b, status: newStatus(b) } as Slot;
    });
    const starting = slots.filter((s) => s.status.state === 'starting');
    const results = await Promise.allSettled(starting.map((s) => startBackend(next, s.backend, s.status, this.#opts)));
    const failed: ReloadResult['failed'] = [];
    results.forEach((r, i) => {
      const slot = starting[i]!;
      if (r.status === 'fulfilled') slot.running = r.value;
      else {
        markFailed(slot, r.reason, log);
        failed.push({ name: slot.backend.name, error: describe(r.reason) });
      }
    });
    this.#slots = slots;
    this.#config = next;
    const result: ReloadResult = {
      ok: failed.every((f) => slots.find((s) => s.backend.name === f.name)!.backend.optional),
      config: next.file,
      added: diff.added.map((b) => b.name),
      removed: diff.removed.map((b) => b.name),
      restarted: [...restart.map((c) => ({ name: c.after.name, fields: c.fields })), ...retry.map((b) => ({ name: b.name, fields: ['failed before'] }))],
      updated: diff.changed.filter((c) => !c.restart && !retry.includes(c.after)).map((c) => ({ name: c.after.name, fields: c.fields })),
      unchanged: diff.unchanged.filter((b) => !retry.includes(b)).map((b) => b.name),
      settings: diff.settings,
      failed,
    };
    (result.ok ? log.info.bind(log) : log.error.bind(log))({ reload: result }, formatReloadResult(result)[0]!);
    return result;
  }

  /** Daemon-level fields that can change under a running daemon (see diff-config.ts). */
  #applySettings(next: ResolvedConfig, settings: ReturnType<typeof diffConfig>['settings']): void {
    for (const s of settings) {
      if (s.apply !== 'live') {
        this.#log.warn({ field: s.field, before: s.before, after: s.after }, `${s.field} changed; it takes effect when the daemon restarts`);
        continue;
      }
      if (s.field === 'logLevel') this.#log.level = next.logLevel;
      if (s.field === 'socketMode') {
        for (const slot of this.#slots) {
          if (!slot.running) continue;
          chmod(slot.running.server.socket, next.socketMode).catch((err: unknown) => slot.running?.log.error({ err }, 'applying the new socketMode failed'));
        }
      }
    }
  }
}

function newStatus(b: ResolvedBackend): BackendStatus {
  return { name: b.name, use: b.use, socket: b.socket, root: b.root, optional: b.optional, state: 'starting' };
}

function markFailed(slot: Slot, reason: unknown, log: Logger): void {
  const b = slot.backend;
  slot.status.state = 'failed';
  slot.status.error = describe(reason);
  if (b.optional) log.error({ backend: b.name, err: reason }, `optional backend ${b.name} failed to start; the other backends keep serving`);
  else log.error({ backend: b.name, err: reason }, `backend ${b.name} failed to start`);
}

async function reportBackend(slot: Slot, signal: AbortSignal | undefined): Promise<BackendReport> {
  const { status, running } = slot;
  const base: BackendReport = { name: status.name, use: status.use, state: status.state, socket: status.socket, root: status.root, optional: status.optional };
  if (status.error !== undefined) base.error = status.error;
  if (!running || status.state !== 'serving') return base;
  const collected = await inBackend(running.backend.name, () =>
    collectStatus({ instance: running.instance, root: running.backend.root, log: running.log, signal, run: (fn) => running.calls.run(fn) }),
  );
  const { metrics: _metrics, problems, ...fields } = collected;
  return { ...base, ...fields, ...(problems.length > 0 ? { problems } : {}) };
}


export interface RunDaemonOptions {
  log: Logger;
  /**
   * Loads the config again for a reload (SIGHUP, `snaphost reload`); without it (a daemon
   * started from `serve --backend …`) a reload is rejected: there is no file to re-read.
   */
  reloadConfig?: () => Promise<ResolvedConfig>;
}

/**
 * The daemon as a process: guards against backend bugs, serves the admin socket, starts every
 * backend, reloads on SIGHUP, and stops on SIGTERM/SIGINT (a second one exits at once).
 * Resolves with the exit code.
 */
export async function runDaemon(config: ResolvedConfig, opts: RunDaemonOptions): Promise<number> {
  const { log } = opts;
  const startedAt = new Date().toISOString();
  const adminSocket = adminSocketFor(config);
  checkAdminSocket(config, adminSocket);
  const guards = installProcessGuards(log);
  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  let daemon: Daemon | undefined;
  const load = async () => {
    if (!opts.reloadConfig) throw new ConfigError([{ path: '', message: 'the daemon was started without a config file (serve --backend …); there is nothing to reload' }]);
    const next = await opts.reloadConfig();
    checkAdminSocket(next, adminSocket);
    return next;
  };
  const reload = (): Promise<ReloadResult> => (daemon ? daemon.reload(load) : Promise.resolve(rejectedReload('the daemon is still starting', config.file)));
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, `second ${signal}: exiting now without waiting for the backends`);
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    signalled = signal;
    wake?.();
  };
  const onHup = () => {
    log.info('SIGHUP: reloading the config');
    void reload().then((r) => {
      if (r.rejected !== undefined && !daemon) log.warn({ reason: r.rejected }, 'SIGHUP ignored');
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHup);
  let admin: AdminServer | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    log.info({ config: config.file, backends: config.backends.length }, 'snaphost starting');
    // First: a second daemon on the same socketDir stops here, before touching any backend.
    admin = await serveAdmin({
      socket: adminSocket,
      log,
      handlers: {
        reload,
        async status(signal): Promise<DaemonReport> {
          if (!daemon) throw new UnavailableError('the daemon is still starting');
          return { pid: process.pid, config: daemon.config.file, startedAt, adminSocket, backends: await daemon.report(signal) };
        },
      },
    });
    const metrics = config.metrics ? new SnaphostMetrics({ log, minIntervalMs: config.metrics.minIntervalMs, collectTimeoutMs: config.metrics.collectTimeoutMs }) : undefined;
    if (metrics && config.metrics) metricsServer = await serveMetrics(metrics, config.metrics.address, log, { maxConnections: config.metrics.maxConnections });
    daemon = await startDaemon(config, { log, metrics });
    const serving = daemon.status.filter((s) => s.state === 'serving');
    log.info(
      { serving: serving.map((s) => ({ backend: s.name, socket: s.socket })), failed: daemon.status.filter((s) => s.state === 'failed').map((s) => s.name) },
      `snaphost serving ${serving.length} backend(s)`,
    );
    if (!signalled) await new Promise<void>((res) => (wake = res));
    log.info({ signal: signalled }, `${signalled}: shutting down (waiting up to ${daemon.config.shutdownTimeoutMs} ms for calls in flight)`);
    await admin.close();
    await daemon.stop();
    await metricsServer?.close();
    const problems = daemon.status.filter((s) => s.error !== undefined && s.state === 'stopped');
    log.info(problems.length > 0 ? { problems } : {}, 'snaphost stopped');
    return 0;
  } finally {
    await admin?.close();
    await metricsServer?.close();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHup);
    guards.uninstall();
  }
}

/** The admin socket shares socketDir with the backends: no backend may be configured onto it. */
function checkAdminSocket(config: ResolvedConfig, adminSocket: string): void {
  const clash = config.backends.filter((b) => b.socket === adminSocket);
  if (clash.length === 0) return;
  throw new ConfigError(
    clash.map((b) => ({ path: `backends[${b.index}].socket`, message: `${adminSocket} is the daemon's admin socket; give this backend another name or socket` })),
    config.file,
  );
}
