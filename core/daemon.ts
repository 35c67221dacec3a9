/**
 * The daemon: wiring only. For each resolved backend: start it (core/backend/run-backend.ts:
 * create the instance, wrap it in the shared adapter, serve it on its own unix socket). A backend
 * that cannot start stops startup (after stopping what already started) unless it is
 * `optional`, in which case it is logged, recorded in `status` and the others serve.
 *
 * Reload (`reload()`, serialized; the algorithm is core/reload/reload-daemon.ts): an invalid
 * new config changes nothing; otherwise removed and changed backends stop, added and changed
 * ones start, unchanged ones are not touched.
 *
 * Shutdown (idempotent, all backends in parallel, after a reload in progress): stop
 * accepting, let in-flight calls finish for at most `shutdownTimeoutMs`, abort the rest
 * (their `Call.signal` fires), close the server, close the instance (bounded), and the
 * socket is removed.
 *
 * With `criProxy` configured, the CRI image-service proxy starts first and stops first; its
 * credential store is every backend's `ctx.registryCredentials` (also after reloads).
 *
 * The daemon as a process (signals, admin socket, metrics endpoint) is core/cli/run-daemon.ts.
 */
import { markFailed, newSlot } from './backend/backend-slot.js';
import { startBackend, stopBackend, type BackendStatus } from './backend/run-backend.js';
import { loadFailures } from './config/resolve-config.js';
import type { ResolvedConfig } from './config/resolved-config.js';
import type { Logger } from './logger.js';
import type { RegistryCredentialSource } from './contract/registry-credentials.js';
import type { SnaphostMetrics } from './metrics/snaphost-metrics.js';
import { reloadDaemon, type DaemonState } from './reload/reload-daemon.js';
import { rejectedReload, type ReloadResult } from './reload/reload-result.js';
import { reportBackend } from './backend/report-backend.js';
import type { BackendReport, CriProxyReport } from './status/status-report.js';
import { startCriProxy, type CriProxy } from './cri-proxy/serve-cri-proxy.js';

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
  /** The CRI proxy's sockets and how many repositories have credentials (never the credentials). */
  criProxyReport(): CriProxyReport | undefined;
  /** Every backend's state, with snapshot counts, disk use and layers of the serving ones. */
  report(signal?: AbortSignal): Promise<BackendReport[]>;
  /** Stop every backend. Idempotent: later calls return the same promise. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  log: Logger;
  /** Count every RPC and report every running backend's status at scrapes. */
  metrics?: SnaphostMetrics;
  /** Set by the daemon itself when the CRI proxy runs. */
  registryCredentials?: RegistryCredentialSource;
}

export async function startDaemon(config: ResolvedConfig, opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const { fatal } = loadFailures(config);
  if (fatal.length > 0) {
    for (const b of fatal) log.error({ backend: b.name, err: b.error }, `backend ${b.name} failed to load`);
    throw fatal[0]!.error!;
  }
  const criProxy = config.criProxy ? await startCriProxy(config.criProxy, log) : undefined;
  const backendOpts: DaemonOptions = criProxy ? { ...opts, registryCredentials: criProxy.credentials } : opts;
  const slots = config.backends.map(newSlot);
  const results = await Promise.allSettled(slots.map((s) => startBackend(config, s.backend, s.status, backendOpts)));
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
  const daemon = new RunningDaemon({ config, slots }, backendOpts, criProxy);
  if (firstFatal !== undefined) {
    await daemon.stop();
    throw firstFatal;
  }
  return daemon;
}

class RunningDaemon implements Daemon {
  readonly #state: DaemonState;
  readonly #opts: DaemonOptions;
  readonly #criProxy: CriProxy | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #stopping: Promise<void> | undefined;

  constructor(state: DaemonState, opts: DaemonOptions, criProxy: CriProxy | undefined) {
    this.#state = state;
    this.#opts = opts;
    this.#criProxy = criProxy;
  }

  criProxyReport(): CriProxyReport | undefined {
    const p = this.#criProxy;
    return p ? { listen: p.listen, upstream: p.upstream, repositoriesWithCredentials: p.credentials.repositories().length } : undefined;
  }

  get status(): readonly BackendStatus[] {
    return this.#state.slots.map((s) => s.status);
  }

  get config(): ResolvedConfig {
    return this.#state.config;
  }

  reload(load: () => Promise<ResolvedConfig>): Promise<ReloadResult> {
    const result = this.#queue.then(() => (this.#stopping ? rejectedReload('the daemon is stopping', this.#state.config.file) : reloadDaemon(this.#state, load, this.#opts)));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  stop(): Promise<void> {
    // After a reload in progress, so no backend is started behind the stop's back.
    this.#stopping ??= this.#queue.then(async () => {
      const { slots, config } = this.#state;
      await this.#criProxy?.close(config.shutdownTimeoutMs);
      await Promise.all(slots.flatMap((s) => (s.running ? [stopBackend(s.running, config.shutdownTimeoutMs)] : [])));
    });
    return this.#stopping;
  }

  async report(signal?: AbortSignal): Promise<BackendReport[]> {
    return Promise.all(this.#state.slots.map((s) => reportBackend(s, signal)));
  }
}
