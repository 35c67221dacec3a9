/**
 * The `unmount` of one layer mount, whichever FUSE transport serves it: the transport's own lazy
 * detach (`fusermount -uz` for fuse-native, umount2(MNT_DETACH) for the kernel transport) bounded
 * by bounded-unmount.ts. Calls while one runs share it, a detached mount stays detached, and one
 * that could not be detached may be tried again.
 */
import type { Logger } from '../../../core/sdk.js';
import { boundedUnmount } from './bounded-unmount.js';
import { FUSE_SUBTYPE, fsnameOf } from './layer-fsname.js';

/** Deadline of each unmount step (see bounded-unmount.ts); the control client waits 30 s in all. */
export const DETACH_TIMEOUT_MS = 8_000;

export interface LayerUnmountOptions {
  /** Deadline of each unmount step; default DETACH_TIMEOUT_MS. */
  detachTimeoutMs?: number;
  log: Logger;
}

export function layerUnmounter(mountpoint: string, digest: string, detach: () => Promise<void>, o: LayerUnmountOptions): () => Promise<void> {
  let unmounting: Promise<void> | undefined;
  return () =>
    (unmounting ??= boundedUnmount(mountpoint, detach, {
      fstype: `fuse.${FUSE_SUBTYPE}`,
      source: fsnameOf(digest),
      timeoutMs: o.detachTimeoutMs ?? DETACH_TIMEOUT_MS,
      log: o.log,
    }).catch((err: unknown) => {
      unmounting = undefined; // not detached: a later unmount tries again
      throw err;
    }));
}
