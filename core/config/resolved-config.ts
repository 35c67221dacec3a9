/** The config after validation and resolution: every default applied, every path absolute. */
import type { BackendDefinition } from '../contract/define-backend.js';
import type { BackendSourceKind } from '../loading/load-backend.js';
import type { LogLevel } from '../logger.js';
import type { RequestLimits } from '../grpc/request-limits.js';
import type { CriProxyOptions } from '../cri-proxy/cri-proxy-options.js';

export interface ResolvedBackend {
  /** Position in `backends[]`, for messages (`backends[2]`). */
  index: number;
  /** Instance name (the containerd snapshotter name). */
  name: string;
  /** `use` as written (or `inline "<name>"` for a definition object). */
  use: string;
  kind: BackendSourceKind;
  /** The absolute module path, the built-in name or `inline`; undefined when it failed to load. */
  module?: string;
  socket: string;
  root: string;
  logLevel: LogLevel;
  optional: boolean;
  /** The checked definition; undefined when loading failed (see `error`). */
  definition?: BackendDefinition;
  /** Options parsed by the definition's schema (defaults applied). */
  options?: unknown;
  /** Why the module could not be loaded (BackendLoadError / BackendContractError). */
  error?: Error;
}

export interface ResolvedConfig {
  /** The config file, when there is one. */
  file?: string;
  logLevel: LogLevel;
  socketDir: string;
  rootDir: string;
  /** containerd's root, when image-fs links are kept there (core/image-fs/link-image-fs.ts). */
  containerdRoot?: string;
  socketMode: number;
  createTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** The metrics endpoint, when configured (`address` checked to be `host:port`; defaults filled in). */
  metrics?: { address: string; minIntervalMs: number; collectTimeoutMs: number; maxConnections: number };
  /** Bounds the snapshots adapter enforces on requests (every default applied). */
  limits: RequestLimits;
  /** The CRI image-service proxy, when configured (paths absolute, defaults applied). */
  criProxy?: CriProxyOptions;
  backends: ResolvedBackend[];
}
