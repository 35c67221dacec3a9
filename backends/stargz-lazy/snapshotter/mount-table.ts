/**
 * The kernel's mount table, as far as the snapshotter cares: which paths under its snapshots
 * directory are mount points (remote layers are FUSE mounts on `snapshots/<id>/fs`), and a
 * last-resort detach for a mount whose FUSE process is gone or does not know it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../../../core/sdk-overlay.js';
import { parseMountInfo, type MountInfoEntry } from '../fused/mountinfo.js';

/** Mounts strictly below `dir` (absolute, symlink-free), in mount order. */
export async function mountsUnder(dir: string): Promise<MountInfoEntry[]> {
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
  const table = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  return table.filter((m) => m.mountpoint.startsWith(prefix));
}

/**
 * Detach the mount at `mountpoint` now (MNT_DETACH: files in use keep working until closed).
 * `-c`: no path canonicalisation, which would stat a dead FUSE mount and fail with ENOTCONN.
 */
export async function detachMount(mountpoint: string): Promise<void> {
  await runCommand('umount', ['-l', '-c', mountpoint], { timeoutMs: 30_000 });
}
