/**
 * The tmpfs that holds a `memory` instance's snapshots: mounted at start (replacing whatever a
 * crashed run left mounted there, by design nothing survives a restart), unmounted at close.
 */
import { isMountPoint, runCommand, unmount } from '../../core/sdk-overlay.js';

/** How many stacked mounts at one path we are willing to peel off. */
const MAX_STACKED = 32;

/** Unmount everything mounted at `dir`; a busy mount is detached lazily (`umount -l`). */
export async function unmountAll(dir: string): Promise<void> {
  for (let i = 0; i < MAX_STACKED && (await isMountPoint(dir)); i++) await unmount(dir);
  if (await isMountPoint(dir)) throw new Error(`${dir} is still a mount point after ${MAX_STACKED} unmounts`);
}

/** Mount a fresh tmpfs of `size` at `dir` (mode 0700: only root reaches the snapshots). */
export async function mountTmpfs(dir: string, size: string): Promise<void> {
  await runCommand('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'snaphost-memory', dir]);
}
