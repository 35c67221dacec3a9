/**
 * `plugins.config.ts` shape and the `defineConfig()` helper (typing only; the host validates
 * everything with `core/config/config-schema.ts` when it loads the file).
 *
 * ```ts
 * import { defineConfig } from 'snaphost';
 * export default defineConfig({
 *   logLevel: 'info',
 *   backends: [
 *     { use: 'memory', options: { size: '2g' } },
 *     { use: 'memory', name: 'memory-ci', options: {} },
 *     { use: './my-backend.js', name: 'mine', optional: true, options: { … } },
 *   ],
 * });
 * ```
 */
import type { DefinedBackend } from '../contract/define-backend.js';
import type { LogLevel } from '../logger.js';
import type { RequestLimitsInput } from '../grpc/request-limits.js';
import type { CriProxyInput } from '../cri-proxy/cri-proxy-options.js';

/** One backend instance the daemon serves. Host keys live here; backend keys in `options`. */
export interface BackendEntry {
  /**
   * Which backend: a built-in name (`memory`, …), an npm package name, a file path
   * (relative to the config file: `./x.js`, `../y/index.mjs`, or absolute), or an
   * imported definition object.
   */
  use: string | DefinedBackend;
  /** Instance name (the containerd snapshotter name); default: the backend's own name. */
  name?: string;
  /** Unix socket path; default `<socketDir>/<name>.sock`. */
  socket?: string;
  /** State directory; default `<rootDir>/<name>`. */
  root?: string;
  /** Log level of this backend's child logger; default: the daemon's. */
  logLevel?: LogLevel;
  /** When true, a failure to load or create this backend is logged and the others serve. */
  optional?: boolean;
  /** Options for the backend, validated by the backend's own zod schema. */
  options?: Record<string, unknown>;
}

/** The whole config file. */
export interface SnaphostConfig {
  backends: BackendEntry[];
  /** Daemon log level; default `info`. */
  logLevel?: LogLevel;
  /** Directory of default sockets; default `/run/snaphost`. */
  socketDir?: string;
  /** Directory of default backend roots; default `/var/lib/snaphost`. */
  rootDir?: string;
  /**
   * containerd's `root` (`/var/lib/containerd` on most nodes). When set, snaphost keeps
   * `<containerdRoot>/io.containerd.snapshotter.v1.<name>` as a link to each backend's root: the
   * directory containerd's CRI plugin names in ImageFsInfo, which kubelet stats for its image file
   * system (docs/configuration.md). Never replaces a real directory. Off when absent.
   */
  containerdRoot?: string;
  /** File mode of the sockets; default `0o660`. */
  socketMode?: number;
  /** How long a backend's `create` may take before it is a named timeout error (ms); default 30000. */
  createTimeoutMs?: number;
  /** How long shutdown waits for in-flight calls to finish (ms); default 10000. */
  shutdownTimeoutMs?: number;
  /** Serve Prometheus metrics; off when absent. */
  metrics?: MetricsConfig;
  /**
   * Bounds on what a client may send to any backend (filters of List, labels of one
   * snapshot); each field optional. Defaults (core/grpc/request-limits.ts): maxFilterBytes
   * 131072, maxFilterSelectors 256, maxRegexBytes 1024, maxRegexInstructions 256, maxLabels
   * 256, maxLabelSetBytes 262144 (at most 3 MiB). Over a bound: INVALID_ARGUMENT naming it.
   */
  limits?: RequestLimitsInput;
  /**
   * Serve Kubernetes' CRI image service on `listen` (kubelet's `--image-service-endpoint`),
   * forwarding every call to containerd's CRI socket `upstream` and keeping each pulled image's
   * registry credentials for the lazy backends (docs/kubernetes.md, "Private registries").
   * Off when absent. Bounds and defaults: core/cri-proxy/cri-proxy-options.ts.
   */
  criProxy?: CriProxyInput;
}

/** The opt-in metrics endpoint (`GET /metrics`, Prometheus text format, no authentication). */
export interface MetricsConfig {
  /**
   * `host:port` to listen on, e.g. `127.0.0.1:9100` (port 0: any free port). The host is
   * required; `0.0.0.0:9100` or `[::]:9100` exposes the endpoint on every interface.
   */
  address: string;
  /**
   * A backend's status (its snapshot count, disk use, lazy layers: for stargz-lazy a walk of
   * its root and queries to its FUSE process) is collected at most once per this long (ms),
   * whatever the scrape rate; scrapes in between reuse it. Default 10000; 0: at every scrape
   * (concurrent scrapes still share one collection).
   */
  minIntervalMs?: number;
  /**
   * A backend's status that has not answered within this long (ms) fails that collection (its
   * `up` is 0) and the last status that answered is served, with its age. Default 5000.
   */
  collectTimeoutMs?: number;
  /** Connections the endpoint accepts at once; more are refused. Default 16. */
  maxConnections?: number;
}

/** Identity function that types `plugins.config.ts`. */
export function defineConfig(config: SnaphostConfig): SnaphostConfig {
  return config;
}

export const DEFAULT_SOCKET_DIR = '/run/snaphost';
export const DEFAULT_ROOT_DIR = '/var/lib/snaphost';
export const DEFAULT_SOCKET_MODE = 0o660;
export const DEFAULT_CREATE_TIMEOUT_MS = 30_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
