/**
 * What the snapshotter needs of the FUSE-serving process (`fused/`), and how it reaches it.
 *
 * `start` starts the process (or attaches to it) when the backend opens (`startFusedAtOpen`);
 * `get` connects, starting it when none answers (a remote prepare); `running` only looks for
 * one that is already there (to unmount, to list at start, for status). The process outlives
 * this connection on purpose: running containers read through its mounts while snaphost
 * restarts. What travels between the two is defined once, in protocol/control-protocol.ts;
 * the names below are the snapshotter's names for it.
 */
import type { LayerCheck, Metrics, MountRequest, OpenRequest, ServedMount } from '../protocol/control-protocol.js';

/** Mount one layer (`POST /v1/mounts`). */
export type LayerMountRequest = MountRequest;

/** One mount the process serves, as the snapshotter reads it (`GET /v1/mounts`). */
export type FusedMountInfo = ServedMount;

/** Whether one layer can be read in full now (`POST /v1/check`). */
export type FusedLayerCheck = LayerCheck;

/** The process's counters and gauges (`GET /v1/metrics`). */
export type FusedMetrics = Metrics;

/** The calls the snapshotter makes (a subset of `FusedClient`). */
export interface FusedMounter {
  /** Resolves once mounted and the root answers; rejects (code `NOT_ESTARGZ`, UnavailableError, …) otherwise. */
  mount(r: LayerMountRequest, signal?: AbortSignal): Promise<void>;
  /**
   * True while the process holds this client's attachment: it ends it when it stops or dies,
   * so what it answered through this client may still hold. Absent: unknown (never trusted).
   */
  readonly attached?: boolean;
  /**
   * A hint, answered at once: the mount of this layer comes next (the process starts fetching
   * and indexing it). A process too old to know it answers NotFoundError.
   */
  open?(r: OpenRequest): Promise<void>;
  unmount(mountpoint: string): Promise<void>;
  list(): Promise<FusedMountInfo[]>;
  /**
   * Availability of the layers at `mountpoints` (same order), answered within a few seconds
   * (a memoized, bounded registry probe). A process too old to know the request answers
   * NotFoundError.
   */
  check(mountpoints: string[], signal?: AbortSignal): Promise<FusedLayerCheck[]>;
  /** Counters and gauges; no registry traffic. */
  metrics(): Promise<FusedMetrics>;
}

export interface FusedLink {
  /** A connected client, starting the process when none answers. */
  get(signal: AbortSignal): Promise<FusedMounter>;
  /** A connected client when the process is already running; `undefined` otherwise (never starts it). */
  running(): Promise<FusedMounter | undefined>;
  /** Drop a client whose calls failed because the connection broke; the next `get` reconnects. */
  reset(client: FusedMounter): void;
  /** Close the connection; the process keeps serving. */
  close(): Promise<void>;
  /** Start the process in the background if this root served remote layers before; never throws. */
  warm?(): void;
  /** Start (or connect to) the process and wait until it has warmed up, bounded; rejects when it cannot start. */
  start?(signal: AbortSignal): Promise<void>;
}
