/**
 * A mountpoint this process does not serve. A mount needs an existing, empty directory on
 * which nothing is mounted; an unmount of it detaches only a mount of this file system left
 * by a process that died (its requests fail with ENOTCONN) and touches nothing else.
 *
 * What is mounted there comes from the mount table, never from a look at the mountpoint
 * itself: a look at a mount this process serves would wait for this process.
 */
import { lstat, readdir } from 'node:fs/promises';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, type Logger } from '../../../core/sdk.js';
import { detachMount, mountAt } from '../../../core/sdk-overlay.js';
import { FUSE_SUBTYPE } from '../fs/layer-fsname.js';

/** Throws unless `mountpoint` is an existing, empty directory with nothing mounted on it. */
export async function checkFreeMountpoint(mountpoint: string): Promise<void> {
  const mounted = await mountAt(mountpoint);
  if (mounted) {
    throw new FailedPreconditionError(`${mountpoint} is already a mount point (${mounted.fstype} from ${mounted.source}); unmount it first`);
  }
  let st;
  try {
    st = await lstat(mountpoint);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`mountpoint ${mountpoint} does not exist`);
    throw err;
  }
  if (!st.isDirectory()) throw new InvalidArgumentError(`mountpoint ${mountpoint} is not a directory`);
  const entries = await readdir(mountpoint);
  if (entries.length > 0) throw new FailedPreconditionError(`mountpoint ${mountpoint} is not empty`);
}

/** Detaches a stale layer mount at `mountpoint`; false when nothing is mounted there. */
export async function detachStaleMount(mountpoint: string, log: Logger): Promise<boolean> {
  const stale = await mountAt(mountpoint);
  if (!stale) return false;
  if (stale.fstype !== `fuse.${FUSE_SUBTYPE}`) {
    throw new FailedPreconditionError(`${mountpoint} is a ${stale.fstype} mount this process does not serve; not unmounting it`);
  }
  await detachMount(mountpoint, { canonicalize: true });
  log.info({ mountpoint, source: stale.source }, 'detached a stale layer mount');
  return true;
}
