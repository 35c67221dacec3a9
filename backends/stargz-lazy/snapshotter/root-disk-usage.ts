/**
 * Disk use of a stargz-lazy root for `status()`: the root but the chunk cache (snapshot
 * directories, metadata, logs), and the chunk cache measured when the FUSE process cannot say.
 * The directories of remote snapshots are not walked: they hold only the FUSE mount point and
 * an empty work dir, and a stat of a mount whose process hangs would block the walk.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { diskUsage } from '../../../core/sdk-overlay.js';
import { fusedPaths } from '../protocol/root-layout.js';

/** Bytes under `root` but the chunk cache, skipping `snapshotsDir/<id>` for the ids in `remoteIds`. */
export async function localDiskBytes(root: string, snapshotsDir: string, remoteIds: ReadonlySet<string>, signal: AbortSignal): Promise<number> {
  const paths = fusedPaths(root);
  const skip = new Set([path.basename(paths.cache), path.basename(paths.socket)]);
  let total = 0;
  for (const name of await readdir(root)) {
    if (skip.has(name)) continue;
    if (path.join(root, name) !== snapshotsDir) {
      total += await measure(path.join(root, name), signal);
      continue;
    }
    for (const id of await readdir(snapshotsDir)) {
      if (!remoteIds.has(id)) total += await measure(path.join(snapshotsDir, id), signal);
    }
  }
  return total;
}

/** Bytes of the chunk cache directory, walked (for when the FUSE process cannot report it). */
export function cacheDiskBytes(root: string, signal: AbortSignal): Promise<number> {
  return measure(fusedPaths(root).cache, signal);
}

/** A tree that vanished or cannot be read counts 0 (status is a report, not a check); an abort rejects. */
async function measure(p: string, signal: AbortSignal): Promise<number> {
  try {
    return (await diskUsage(p, signal)).size;
  } catch (err) {
    if (signal.aborted) throw err;
    return 0;
  }
}
