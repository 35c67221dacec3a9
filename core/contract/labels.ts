/** Label keys containerd and its clients use on snapshots. */

/** Set by containerd on a prepare whose layer a remote snapshotter may provide (value: chain id). */
export const LABEL_TARGET_REF = 'containerd.io/snapshot.ref';
/** Set by a remote snapshotter on the snapshots it committed itself. */
export const LABEL_REMOTE = 'containerd.io/snapshot/remote';
/** Garbage-collection root: containerd keeps snapshots with this label. */
export const LABEL_GC_ROOT = 'containerd.io/gc.root';
/** Prefix of the labels containerd forwards to snapshotters. */
export const LABEL_SNAPSHOT_PREFIX = 'containerd.io/snapshot/';

/** containerd's limit: key + value of one label at most 4096 bytes. */
export const MAX_LABEL_BYTES = 4096;
