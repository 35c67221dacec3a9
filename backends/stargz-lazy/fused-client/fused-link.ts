/**
 * What the snapshotter needs of the FUSE-serving process (`fused/`), and how it reaches it.
 *
 * `start` starts the process (or attaches to it) when the backend opens (`startFusedAtOpen`);
 * `get` connects, starting it when none answers (a remote prepare); `running` only looks for
 * one that is already there (to unmount, to list at start, for status). The process outlives
 * this connection on purpose: running containers read through its mounts while snaphost
 * restarts.
 */

/** Mount one layer (the agreed `FusedClient.mount` request). */
export interface LayerMountRequest {
  mountpoint: string;
  /** Image reference, `host/repository[:tag][@digest]`: where the blob lives. */
  reference: string;
  /** The layer blob's digest. */
  digest: string;
  /** Expected TOC digest (layer label `containerd.io/snapshot/stargz/toc.digest`). */
  tocDigest?: string;
  /** Direct URLs of the blob (foreign layers), tried after the registry. */
  urls?: string[];
  /**
   * The image's layers above this one, bottom first (label `…/stargz.layers`): the process may
   * open them ahead (footer and TOC) so that their own mounts come quicker.
   */
  following?: { digest: string; urls?: string[] }[];
  /** Prefetch bound for this layer, bytes (0: no prefetch). */
  prefetchBytes?: number;
}

/** One mount the process serves. */
export interface FusedMountInfo {
  mountpoint: string;
  digest: string;
  reference: string;
  state: string;
  /** Uncompressed bytes of the layer's file contents in the chunk cache, and in total (absent from an older process). */
  fetchedBytes?: number;
  totalBytes?: number;
  prefetch?: { state: string; files: number; bytes: number };
  background?: { state: string; fetchedBytes: number; totalBytes: number };
}

/** Whether one layer can be read in full now (`POST /v1/check`). */
export interface FusedLayerCheck {
  mountpoint: string;
  served: boolean;
  digest?: string;
  reference?: string;
  available: boolean;
  reason?: string;
  fetchedBytes: number;
  totalBytes: number;
}

/** The process's counters and gauges (`GET /v1/metrics`). */
export interface FusedMetrics {
  registryBytes: number;
  registryReads: number;
  cache: { hits: number; misses: number; memoryBytes: number; diskBytes: number; diskLimitBytes: number; evictions: number };
  readLatency: { buckets: { le: number; count: number }[]; sum: number; count: number };
  probes: number;
  /** Absent from older processes. */
  vanishedMounts?: number;
}

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
  open?(r: Omit<LayerMountRequest, 'mountpoint' | 'prefetchBytes'>): Promise<void>;
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
