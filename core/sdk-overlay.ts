/**
 * Package entry `snaphost/overlay`: the building blocks of overlay-based backends, the ones the
 * built-ins are made of: the metadata stores (containerd's storage semantics, in memory or
 * durable in LMDB), the overlay snapshotter they are given to, and the helpers around them.
 * Loads the stores and the overlay code; the contract itself is the entry `snaphost`.
 */
export type { MetaStore, MetaReader, MetaWriter, SnapshotRef, StoredInfo } from './metastore/metastore.js';
export { MemoryMetaStore } from './metastore/memory-metastore.js';
export { LmdbMetaStore } from './metastore/lmdb-metastore.js';
export type { LmdbMetaStoreOptions } from './metastore/lmdb-metastore.js';

export { createOverlaySnapshotter, LABEL_OVERLAY_UPPERDIR } from './overlay/overlay-snapshotter.js';
// `OverlaySnapshotter`: what createOverlaySnapshotter returns (a type: there is no class to extend).
export type { OverlaySnapshotter, OverlaySnapshotterOptions, MissingDir } from './overlay/overlay-snapshotter.js';
export { REMOTE_SNAPSHOT_LABEL_VALUE } from './overlay/layer-hook.js';
export type { LayerHook, LayerDecision, RemoteLayerRef, WriteHook, OverlayChange } from './overlay/layer-hook.js';
export { openOverlayRoot } from './overlay/open-overlay-root.js';
export { checkOverlaySupport } from './overlay/overlay-support.js';
export { OverlayLayout, overlayMounts, overlayIndexOff } from './overlay/overlay-mounts.js';
export type { OverlayMountOptions } from './overlay/overlay-mounts.js';
export { overlayMountOptionProblem } from './overlay/overlay-mount-options.js';
export { diskUsage } from './overlay/disk-usage.js';
export { runCommand, CommandError } from './overlay/run-command.js';
export type { CommandResult } from './overlay/run-command.js';

// What is mounted where (/proc/self/mountinfo) and unmounting (umount, then umount -l).
export { parseMountInfo, readMountTable, mountAt, isMountPoint, mountsUnder, isMountedAt } from './mounts/mount-table.js';
export type { MountInfoEntry } from './mounts/mount-table.js';
export { unmount, detachMount } from './mounts/unmount.js';
export type { DetachOptions } from './mounts/unmount.js';

// Callbacks one at a time per key (per snapshot, per mountpoint), different keys concurrently.
export { KeyedLock } from './runtime/keyed-lock.js';

// A backend that keeps a helper process of its own (stargz-lazy's FUSE process) locks it with this.
export { acquirePidLock, LockHeldError } from './runtime/pid-lock.js';
export type { PidLock } from './runtime/pid-lock.js';
