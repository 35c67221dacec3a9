/**
 * How a layer mount shows in the mount table, whichever FUSE transport serves it: type
 * `fuse.snaphost-stargz`, source `snaphost-stargz:<digest>` (`/proc/self/mountinfo` tells which
 * layer is mounted where, also after the serving process is gone).
 */
export const FUSE_SUBTYPE = 'snaphost-stargz';
/** `fsname` of a layer mount; the mount source in /proc/self/mountinfo. */
export const fsnameOf = (digest: string): string => `${FUSE_SUBTYPE}:${digest}`;
