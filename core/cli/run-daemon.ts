/**
 * The daemon as a process (`snaphost serve`): guards against backend bugs, serves the admin
 * socket and the metrics endpoint, starts every backend (core/daemon.ts), reloads on SIGHUP,
 * and stops on SIGTERM/SIGINT (a second one exits at once).
 */
import { adminSocketFor } from '../admin/admin-protocol.js';
import { serveAdmin, type AdminServer } from '../admin/admin-server.js';
import { installProcessGuards } from '../backend/process-guards.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { ConfigError, UnavailableError } from '../contract/errors.js';
import { startDaemon, type Daemon } from '../daemon.js';
import type { Logger } from '../logger.js';
import { serveMetrics, type MetricsServer } from '../metrics/serve-metrics.js';
import { SnaphostMetrics } from '../metrics/snaphost-metrics.js';
import { rejectedReload, type ReloadResult } from '../reload/reload-result.js';
import type { DaemonReport } from '../status/status-report.js';

export interface RunDaemonOptions {
  log: Logger;
  /**
   * Loads the config again for a reload (SIGHUP, `snaphost reload`); without it (a daemon
   * started from `serve --backend …`) a reload is rejected: there is no file to re-read.
   */
  reloadConfig?: () => Promise<ResolvedConfig>;
}

/** Runs the daemon until SIGTERM/SIGINT (see the file comment); resolves with the exit code. */
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
          const criProxy = daemon.criProxyReport();
          return { pid: process.pid, config: daemon.config.file, startedAt, adminSocket, backends: await daemon.report(signal), ...(criProxy ? { criProxy } : {}) };
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

/** The admin socket shares socketDir with the backends: no backend (nor the CRI proxy) may be configured onto it. */
function checkAdminSocket(config: ResolvedConfig, adminSocket: string): void {
  const clash = config.backends.filter((b) => b.socket === adminSocket);
  const issues = clash.map((b) => ({ path: `backends[${b.index}].socket`, message: `${adminSocket} is the daemon's admin socket; give this backend another name or socket` }));
  if (config.criProxy?.listen === adminSocket) issues.push({ path: 'criProxy.listen', message: `${adminSocket} is the daemon's admin socket; give the CRI proxy another socket` });
  if (issues.length === 0) return;
  throw new ConfigError(issues, config.file);
}
