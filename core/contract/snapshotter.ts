/**
 * THE backend contract of snapshot: what a snapshotter module implements.
 *
 * It mirrors containerd's `snapshots.Snapshotter` (core/snapshots/snapshotter.go) with plain
 * values: no gRPC request objects, no protobuf types, no streams. The shared adapter
 * (`core/grpc/snapshots-service.ts`) turns any implementation into the
 * `containerd.services.snapshots.v1.Snapshots` gRPC service.
 *
 * ## Terms (containerd's vocabulary)
 * - **key**: the name of an *active* or *view* snapshot, chosen by the caller.
 *   containerd's metadata layer rewrites keys to `"<namespace>/<seq>/<client key>"`, e.g.
 *   `default/12/extract-123 sha256:abc…`. Keys are opaque strings: they may contain `/`, spaces
 *   and `..`. NEVER use a key as a file-system path; map it to an id of your own.
 * - **name**: the name of a *committed* snapshot (the `name` argument of `commit`).
 *   Keys and names share one namespace: a committed name cannot be reused as a key.
 * - **parent**: the name of a committed snapshot the new one is based on, or `''` for none.
 * - **kind**: `active` (writable), `view` (read-only), `committed` (immutable, can be a parent).
 *
 * ## Lifecycle
 * ```
 *   prepare(key, parent) ─▶ active ──commit(name, key)──▶ committed(name) ─▶ parent of others
 *   view(key, parent)    ─▶ view (read-only, cannot be committed)
 *   remove(key|name)     ─▶ gone (refused with FailedPreconditionError while it has children)
 * ```
 *
 * ## Errors
 * Throw the classes of `core/contract/errors.ts` (`NotFoundError`, `AlreadyExistsError`,
 * `FailedPreconditionError`, `InvalidArgumentError`, `UnavailableError`, `NotImplementedError`).
 * They are mapped to gRPC status codes in exactly one place. Anything else thrown becomes
 * INTERNAL naming the backend and method, and the daemon keeps serving.
 *
 * ## Worked example: pulling a two-layer image
 * ```
 * prepare('ns/1/extract-1 sha256:L1', '')          -> [bind mount of an empty dir]  (containerd untars layer 1 into it)
 * commit('ns/2/sha256:L1', 'ns/1/extract-1 sha256:L1')
 * prepare('ns/3/extract-2 sha256:L2', 'ns/2/sha256:L1') -> [overlay lower=L1 upper=new]
 * commit('ns/4/sha256:L2', 'ns/3/extract-2 sha256:L2')
 * prepare('ns/5/my-container', 'ns/4/sha256:L2')   -> the container's rootfs mounts
 * ```
 */

/** Kind of a snapshot, as containerd names them. */
export type Kind = 'view' | 'active' | 'committed';

/**
 * A point in time in nanoseconds since the Unix epoch. containerd compares snapshot times
 * against its own nanosecond clock, so milliseconds (a JS `Date`) are not precise enough.
 * Use `nowNs()` from `core/contract/time.ts`.
 */
export type Timestamp = bigint;

/** Labels: arbitrary string data on a snapshot. */
export type Labels = Record<string, string>;

/** What `stat`, `list` and `update` return about one snapshot. */
export interface Info {
  /** The key (active/view) or name (committed). */
  name: string;
  /** The parent's name, or '' when there is none. */
  parent: string;
  kind: Kind;
  labels: Labels;
  created: Timestamp;
  updated: Timestamp;
}

/** Disk usage of one snapshot's own layer (not of its parents). */
export interface Usage {
  /** Bytes. */
  size: number;
  /** Inodes. */
  inodes: number;
}

/**
 * A mount, exactly as the mount(2) call the *caller* will make (containerd mounts, the
 * snapshotter only describes). `target` is normally empty: containerd chooses it.
 */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/**
 * What `update` may change. Only labels are mutable; `name` says which snapshot.
 * `fieldpaths` (the gRPC update mask) are `[]` (all mutable fields = replace all labels),
 * `['labels']` (replace all labels) or `['labels.<key>', …]` (set that key, or delete it when
 * it is absent from `labels`). Any other path must be refused with InvalidArgumentError;
 * `applyLabelUpdate()` in `core/contract/update.ts` implements exactly these rules.
 */
export interface InfoUpdate {
  name: string;
  labels: Labels;
}

/**
 * A compiled List/Walk filter in containerd's filter grammar. The adapter always applies
 * the whole filter to what `list` yields, so a backend may ignore the filter entirely or use
 * it to narrow its own scan (for example by a label index). The `match()` a backend gets is
 * cheap: it selects a superset, leaving `~=` regular expressions to the adapter, which
 * matches them between turns of the event loop.
 */
export interface SnapshotFilter {
  /** The filter strings as the client sent them (ORed). Empty means "everything". */
  readonly source: readonly string[];
  match(info: Info): boolean;
}

/** Per-call context the host passes to every method. */
export interface Call {
  /** Aborted when the client cancels or the deadline passes, or the host shuts down. */
  signal: AbortSignal;
  /** The `containerd-namespace` gRPC header, when the client sent one (often it does not). */
  namespace?: string;
  /** A child logger with `{ backend, method, key }` bound. */
  log: import('../logger.js').Logger;
}

/**
 * The snapshotter a backend's `create()` returns. Every method may be sync or async.
 * `cleanup`, `status` and `close` are optional: a missing `cleanup` answers UNIMPLEMENTED
 * (containerd ignores that), a missing `status` is filled in by the host, a missing `close`
 * does nothing.
 */
export interface Snapshotter {
  /** Info of the snapshot `key` (active, view or committed). NotFoundError when missing. */
  stat(key: string, call: Call): Promise<Info> | Info;

  /**
   * Change labels of `info.name` per `fieldpaths` (see `InfoUpdate`) and set `updated` to now.
   * Returns the new info.
   */
  update(info: InfoUpdate, fieldpaths: string[], call: Call): Promise<Info> | Info;

  /** Usage of the snapshot's own layer. Active snapshots are measured now; committed ones may be recorded at commit. */
  usage(key: string, call: Call): Promise<Usage> | Usage;

  /** The mounts of an active or view snapshot (the same as `prepare`/`view` returned). */
  mounts(key: string, call: Call): Promise<Mount[]> | Mount[];

  /**
   * Create an active snapshot `key` on top of committed `parent` ('' for none).
   * AlreadyExistsError when `key` is taken; NotFoundError when `parent` does not exist;
   * InvalidArgumentError (or FailedPrecondition) when `parent` is not committed.
   * A remote (lazy) backend answers AlreadyExistsError on purpose when it made the layer
   * available itself under `labels['containerd.io/snapshot.ref']`: that is containerd's
   * remote-snapshot protocol, not a failure.
   */
  prepare(key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]> | Mount[];

  /** Like `prepare`, but read-only, and cannot be committed. */
  view(key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]> | Mount[];

  /**
   * Turn active snapshot `key` into committed snapshot `name` (the key is gone afterwards).
   * NotFoundError when `key` is missing, FailedPreconditionError when it is not active
   * (a view), AlreadyExistsError when `name` is taken.
   */
  commit(name: string, key: string, labels: Labels, call: Call): Promise<void> | void;

  /**
   * Remove a snapshot. FailedPreconditionError, with a message containing "remove", when it
   * still has children.
   */
  remove(key: string, call: Call): Promise<void> | void;

  /**
   * Every snapshot (or those `filter` selects; see `SnapshotFilter`). The adapter streams the
   * result to the client in batches while calling other methods (containerd calls `stat`
   * from inside a walk), so do not hold a lock for the whole iteration: take a snapshot of
   * what to yield, then yield.
   */
  list(filter: SnapshotFilter, call: Call): AsyncIterable<Info> | Iterable<Info>;

  /** Remove what is no longer referenced (directories of removed snapshots and the like). */
  cleanup?(call: Call): Promise<void> | void;

  /**
   * What this backend reports to `snaphost status` and to the metrics endpoint (all fields
   * optional: the host counts snapshots with `list` and measures the root's disk use itself
   * when they are left out). Must be cheap: no registry traffic, no walk of every file.
   */
  status?(call: Call): Promise<SnapshotterStatus> | SnapshotterStatus;

  /** Release everything (unmount, close files). Called once when the host stops this backend. */
  close?(): Promise<void> | void;
}

/** A backend's own report (see `Snapshotter.status`). */
export interface SnapshotterStatus {
  /** Number of snapshots of every kind. */
  snapshots?: number;
  /** Bytes the backend uses on disk (its root, caches included). */
  diskBytes?: number;
  /** Lazily fetched layers (remote snapshots), for lazy backends. */
  layers?: LayerStatus[];
  /**
   * Backend-specific series for the metrics endpoint. `name` is snake_case without a prefix
   * (the host adds `snaphost_backend_` and the label `backend`).
   */
  metrics?: BackendMetric[];
}

/** One lazily fetched layer. */
export interface LayerStatus {
  /** The snapshot's name (containerd's chain id key). */
  snapshot: string;
  /** Compressed layer digest. */
  digest: string;
  /** Image reference it is fetched from. */
  reference?: string;
  /** `available`: served and readable; `unavailable`: not served or its registry cannot be reached and it is not fully cached. */
  state: 'available' | 'unavailable';
  /** Why it is unavailable. */
  reason?: string;
  /** Bytes of the layer's file contents held locally (verified, cached) and in total. */
  fetchedBytes: number;
  totalBytes: number;
  /** How the layer is stored, e.g. `estargz`, `legacy-stargz`, `zstd:chunked` (lazy formats differ per backend). */
  format?: string;
  /** Progress of prefetch / background fetch, e.g. `running`, `complete`. */
  prefetch?: string;
  background?: string;
}

/** One series a backend reports (see `SnapshotterStatus.metrics`). */
export type BackendMetric =
  | { name: string; help: string; type: 'counter' | 'gauge'; value: number; labels?: Record<string, string> }
  | {
      name: string;
      help: string;
      type: 'histogram';
      /** Cumulative counts per upper bound (seconds or bytes, as `name` says), ascending; `+Inf` is `count`. */
      buckets: { le: number; count: number }[];
      sum: number;
      count: number;
      labels?: Record<string, string>;
    };

/** Names of the methods a snapshotter must have (checked when the host loads a backend). */
export const REQUIRED_METHODS = [
  'stat',
  'update',
  'usage',
  'mounts',
  'prepare',
  'view',
  'commit',
  'remove',
  'list',
] as const satisfies readonly (keyof Snapshotter)[];

/** Names of the methods a snapshotter may leave out. */
export const OPTIONAL_METHODS = ['cleanup', 'status', 'close'] as const satisfies readonly (keyof Snapshotter)[];
