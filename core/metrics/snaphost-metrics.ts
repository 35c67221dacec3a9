/**
 * Everything the metrics endpoint serves, in one prom-client Registry:
 * - per backend and RPC, from the adapter's observer: `snaphost_rpc_requests_total{backend,
 *   method, code}` (errors are its non-OK codes) and the `snaphost_rpc_duration_seconds{backend,
 *   method}` histogram;
 * - per running backend, asked at scrape time (at most once per `minIntervalMs`, one call at a
 *   time, bounded by `collectTimeoutMs`: scrape-status.ts): `up`, snapshot count, disk use,
 *   lazy-layer series and the backend's own metrics (see status-families.ts), and
 *   `snaphost_backend_status_failures_total{backend}` (collections that failed or were late);
 * - the process's own metrics (prom-client defaults) prefixed `snaphost_`.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RpcObserver } from '../grpc/snapshots-service.js';
import type { Logger } from '../logger.js';
import type { SnapshotterStatus } from '../contract/snapshotter.js';
import { DEFAULT_COLLECT_TIMEOUT_MS, DEFAULT_MIN_COLLECT_INTERVAL_MS } from './metrics-defaults.js';
import { StatusCollector, type StatusSource } from './scrape-status.js';
import { statusFamilies } from './status-families.js';

export type { RpcObserver };

/** 100 µs .. 30 s: a memory-backend Stat is ~100 µs; a lazy Prepare that resolves a registry may take seconds. */
export const RPC_DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** The adapter's methods (containerd's names); their OK series start at 0 so `rate()` works from the first scrape. */
export const RPC_METHODS = ['Prepare', 'View', 'Mounts', 'Commit', 'Remove', 'Stat', 'Update', 'Usage', 'List', 'Cleanup'] as const;
/** Distinct problems a backend's reports are warned about (each once) before further ones go to debug. */
const MAX_WARNED = 1000;

export interface SnaphostMetricsOptions {
  /** How long each backend's status may take at a scrape before its `up` is 0 (ms); default 5000. */
  collectTimeoutMs?: number;
  /**
   * A backend's status is collected at most once per this long (ms); scrapes in between reuse
   * the last one. Default 10000; 0: at every scrape (concurrent scrapes still share one).
   */
  minIntervalMs?: number;
  /** Where malformed backend reports and status failures are logged. */
  log?: Logger;
}

export class SnaphostMetrics {
  readonly #registry = new Registry();
  readonly #requests: Counter<'backend' | 'method' | 'code'>;
  readonly #duration: Histogram<'backend' | 'method'>;
  readonly #sources = new Map<string, StatusSource>();
  readonly #collector: StatusCollector;
  readonly #failures: Counter<'backend'>;
  readonly #log: Logger | undefined;
  readonly #warned = new Set<string>();
  /** Backends whose last status failed, to log the change once rather than every scrape. */
  readonly #down = new Set<string>();

  constructor(o: SnaphostMetricsOptions = {}) {
    const timeout = o.collectTimeoutMs ?? DEFAULT_COLLECT_TIMEOUT_MS;
    if (!Number.isInteger(timeout) || timeout <= 0) throw new RangeError(`collectTimeoutMs must be a positive integer (ms), got ${String(timeout)}`);
    const minIntervalMs = o.minIntervalMs ?? DEFAULT_MIN_COLLECT_INTERVAL_MS;
    if (!Number.isInteger(minIntervalMs) || minIntervalMs < 0) throw new RangeError(`minIntervalMs must be a non-negative integer (ms), got ${String(minIntervalMs)}`);
    this.#log = o.log;
    collectDefaultMetrics({ register: this.#registry, prefix: 'snaphost_' });
    this.#requests = new Counter({
      name: 'snaphost_rpc_requests_total',
      help: 'Snapshots RPCs answered, by backend, method and gRPC status code (errors: code != "OK").',
      labelNames: ['backend', 'method', 'code'],
      registers: [this.#registry],
    });
    this.#duration = new Histogram({
      name: 'snaphost_rpc_duration_seconds',
      help: 'Time from receiving a Snapshots RPC to answering it (List: to the end of its stream), by backend and method.',
      labelNames: ['backend', 'method'],
      buckets: RPC_DURATION_BUCKETS,
      registers: [this.#registry],
    });
    this.#failures = new Counter({
      name: 'snaphost_backend_status_failures_total',
      help: "Collections of a backend's status that failed or did not answer within the collect timeout.",
      labelNames: ['backend'],
      registers: [this.#registry],
    });
    this.#collector = new StatusCollector({ timeoutMs: timeout, minIntervalMs, onFailure: (backend) => this.#failures.inc({ backend }) });
  }

  /** The adapter's `observe` for one backend instance. */
  rpcObserver(backend: string): RpcObserver {
    requireName(backend);
    for (const method of RPC_METHODS) {
      this.#requests.inc({ backend, method, code: 'OK' }, 0);
      this.#duration.zero({ backend, method });
    }
    return (method, code, seconds) => {
      this.#requests.inc({ backend, method, code });
      if (Number.isFinite(seconds) && seconds >= 0) this.#duration.observe({ backend, method }, seconds);
    };
  }

  /**
   * A running backend's report source, called at scrape time; returns a function that
   * unregisters it. Adding a name again replaces the source (a restarted backend); the old
   * source's unregister function then does nothing.
   */
  addBackend(name: string, status: (signal: AbortSignal) => Promise<SnapshotterStatus>): () => void {
    requireName(name);
    if (typeof status !== 'function') throw new TypeError(`addBackend(${JSON.stringify(name)}): status must be a function`);
    this.#sources.set(name, status);
    this.#failures.inc({ backend: name }, 0);
    return () => {
      if (this.#sources.get(name) === status) {
        this.#sources.delete(name);
        this.#down.delete(name);
      }
    };
  }

  /** Prometheus text exposition of everything (for tests and the server). */
  async render(): Promise<{ contentType: string; body: string }> {
    const reports = await this.#collector.collect(this.#sources);
    for (const r of reports) {
      if (r.up && this.#down.delete(r.backend)) this.#log?.info({ backend: r.backend }, 'metrics: status answers again');
      else if (!r.up && !this.#down.has(r.backend)) {
        this.#down.add(r.backend);
        this.#log?.warn({ backend: r.backend, error: r.error }, `metrics: status failed; ${r.backend} is reported as down`);
      }
    }
    const { families, problems } = statusFamilies(reports);
    for (const p of problems) this.#problem(p.backend, p.message);
    const scrape = new Registry();
    for (const f of families) scrape.registerMetric(f.asMetric());
    const body = await Registry.merge([this.#registry, scrape]).metrics();
    return { contentType: this.#registry.contentType, body };
  }

  #problem(backend: string, message: string): void {
    const key = `${backend}\0${message}`;
    if (this.#warned.has(key)) return;
    if (this.#warned.size >= MAX_WARNED) {
      this.#log?.debug({ backend }, `metrics: dropped part of the backend's status: ${message}`);
      return;
    }
    this.#warned.add(key);
    this.#log?.warn({ backend }, `metrics: dropped part of the backend's status: ${message}`);
  }
}

function requireName(name: string): void {
  if (typeof name !== 'string' || name === '') throw new TypeError(`a backend name must be a non-empty string, got ${JSON.stringify(name)}`);
}
