/**
 * Readiness of a layer mount, checked from the CLIENT's side (the serving process must never
 * touch its own mounts): mountinfo shows this file system for that layer at the mountpoint,
 * and the mountpoint's root answers a stat (as inode 1, the layer root) within a deadline.
 */
import { stat } from 'node:fs/promises';
import { UnavailableError } from '../../../core/sdk.js';
import { mountAt } from '../../../core/sdk-overlay.js';
import { FUSE_SUBTYPE, fsnameOf } from '../fs/layer-fsname.js';

const ROOT_INO = 1;

export async function checkMounted(mountpoint: string, digest: string, timeoutMs: number): Promise<void> {
  const m = await mountAt(mountpoint);
  if (!m || m.fstype !== `fuse.${FUSE_SUBTYPE}` || m.source !== fsnameOf(digest)) {
    const what = m ? `${m.fstype} from ${m.source}` : 'nothing';
    throw new UnavailableError(`layer ${digest} is not mounted at ${mountpoint} (mountinfo shows ${what})`);
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(`the root of ${mountpoint} did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const st = await Promise.race([stat(mountpoint), late]);
    if (!st.isDirectory() || st.ino !== ROOT_INO) {
      throw new UnavailableError(`${mountpoint} does not show the layer root (inode ${st.ino})`);
    }
  } catch (err) {
    if (err instanceof UnavailableError) throw err;
    throw new UnavailableError(`the root of ${mountpoint} does not answer: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
