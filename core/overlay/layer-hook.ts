/**
 * What the overlay snapshotter (`createOverlaySnapshotter`) is GIVEN besides its metadata store:
 * the two hooks a backend composes it with, instead of subclassing it.
 *
 * - `LayerHook`: remote lower layers (containerd's remote-snapshot protocol, as
 *   stargz-snapshotter's generic snapshotter takes a `FileSystem` with Mount / Check / Unmount).
 *   The overlay snapshotter owns the protocol (which prepare is a remote one, the target's
 *   existence, the active snapshot, the commit under the target's name with
 *   `containerd.io/snapshot/remote`, the ALREADY_EXISTS answer, which layers lie below a
 *   snapshot); the hook owns the layers (what the labels name, mounting, checking, unmounting).
 * - `WriteHook`: a check that runs inside the store's write transaction of a change, as the
 *   only writer, so that a check-then-act (a limit on the number of snapshots, a quota) needs no
 *   lock of the backend's own.
 */
import type { MetaReader } from '../metastore/metastore.js';
import type { Call, Labels, SnapshotterStatus, Usage } from '../contract/snapshotter.js';

/** Value of `containerd.io/snapshot/remote` on a snapshot committed from a remote layer (stargz-snapshotter's). */
export const REMOTE_SNAPSHOT_LABEL_VALUE = 'remote snapshot';

/** One remote layer at or below a snapshot: a committed snapshot labelled remote, and where its layer is mounted. */
export interface RemoteLayerRef {
  /** The snapshot's name (its chain id). */
  name: string;
  /** The snapshot's id in the store (its directory is `snapshots/<id>`). */
  id: number;
  /** `snapshots/<id>/fs`: where the layer is mounted (the overlay lowerdir). */
  mountpoint: string;
  /** The snapshot's labels (those of the prepare that made it: where the layer comes from). */
  labels: Labels;
}

/**
 * What the labels of a prepare with a target (`containerd.io/snapshot.ref`) ask for, decided
 * ONCE per prepare by `LayerHook.parse`:
 * - `{ layer }`: mount this layer lazily on the new snapshot's directory;
 * - `{ fallback, note }`: prepare an ordinary snapshot that containerd fills. `fallback` says why
 *   (malformed labels, an unverified layer, …); `note` logs and counts it, and is called only
 *   when the prepare does answer that ordinary snapshot (after its create succeeded; not when
 *   the target turns out to exist already), so the account holds answers, not parses;
 * - `undefined`: the labels name no layer (a plain pull): an ordinary snapshot, nothing logged.
 */
export type LayerDecision<L> = { layer: L } | { fallback: string; note(call: Call): void } | undefined;

export interface LayerHook<L = unknown> {
  /**
   * Decide what a prepare with a target asks for (see `LayerDecision`). Called once per such
   * prepare, before any check; it may start work that helps the mount to come (a hint), but it
   * never waits and never throws.
   */
  parse(labels: Labels, call: Call): LayerDecision<L>;

  /**
   * Log fields naming `layer` (digest, image reference): bound, with `target`, to the overlay
   * snapshotter's log lines about the remote prepare ('prepared remote snapshot', 'failed to
   * commit remote snapshot') and to the `call.log` that `mount` is given (optional).
   */
  describe?(layer: L): Record<string, unknown>;

  /**
   * Mount `layer` on `mountpoint` (an empty `snapshots/<id>/fs` of the new active snapshot).
   * Throwing means "not mounted": the prepare answers the ordinary snapshot's mounts, so the
   * hook logs and counts why before it throws, and leaves nothing mounted on `mountpoint`.
   * `call.log` has `target` and the `describe` fields bound.
   */
  mount(mountpoint: string, layer: L, call: Call): Promise<void>;

  /**
   * Throw `UnavailableError` (naming the snapshot, the layer, the image and why) when one of
   * `layers` cannot be read in full: a container started on it would fail reads with EIO.
   * `layers` are the remote layers at or below the snapshot a `mounts`, `view` or `prepare`
   * is about, nearest first, never empty. Called once per such call (and once more for the
   * target of a remote prepare that already exists).
   */
  check(layers: readonly RemoteLayerRef[], call: Call): Promise<void>;

  /** Unmount `mountpoint` (a remote layer's); nothing to do when it is not mounted. */
  unmount(mountpoint: string, call: Call): Promise<void>;

  /**
   * Snapshot directories (`snapshots/<id>`) whose record is gone, before `remove` deletes them
   * and before `cleanup` renames and deletes them (inside cleanup's write transaction): release
   * what the hook put inside (unmount the layer on `<dir>/fs`). Returns the directories still
   * busy: they are kept and offered again at the next `cleanup`. Never throws for one
   * directory's failure.
   */
  release(dirs: readonly string[], call: Call): Promise<ReadonlySet<string>>;

  /** Runs first in `cleanup`: release what the hook left where no snapshot directory can be (optional). */
  cleanup?(call: Call): Promise<void>;

  /**
   * The backend's status from the remote snapshots the store holds (every one, not only those
   * below something): layers, disk use, series. The overlay snapshotter adds `snapshots`.
   */
  status?(remote: readonly RemoteLayerRef[], call: Call): Promise<SnapshotterStatus>;

  /** Runs first in `close` (before the store closes): drop connections, keep serving mounts. */
  close?(): Promise<void>;
}

/**
 * A change the overlay snapshotter is about to make, as a `WriteHook` sees it. A remote prepare
 * makes two: its `prepare` (the active snapshot) and the `commit` of that snapshot under the
 * target's name (usage 0: the layer is mounted, not stored).
 */
export type OverlayChange =
  | { op: 'prepare' | 'view'; key: string; parent: string; labels: Labels }
  | { op: 'commit'; name: string; key: string; labels: Labels; /** The active snapshot's layer, measured now. */ usage: Usage }
  | { op: 'remove'; key: string };

/**
 * Runs inside the store's write transaction, before `change` is made, as the only writer: what
 * it reads through `tx` cannot change until the change is made. Throw a snaphost error to refuse
 * the change (`FailedPreconditionError` for a limit or a quota, `InvalidArgumentError` for a
 * request the backend never accepts); nothing is changed then. Keep it short: every other write
 * of the backend waits for it. The store checks names after the hook: a change the hook lets
 * through may still be refused (key taken, parent or key missing, commit of a view).
 */
export type WriteHook = (change: OverlayChange, tx: MetaReader, call: Call) => void | Promise<void>;
