/**
 * The tmpfs that holds a `memory` instance's snapshots: mounted at start (replacing whatever a
 * crashed run left mounted there, by design nothing survives a restart), unmounted at close.
 */
import { readFile } from 'node:fs/promises';
import { runCommand } from '../../core/sdk-overlay.js';

/** How many stacked mounts at one path we are willing to peel off. */
const MAX_STACKED = 32;

/** True when `dir` (an absolute, symlink-free path) is a mount point in this mount namespace. */
export async function isMountPoint(dir: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of table.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4 && unescapeMountPath(fields[4]!) === dir) return true;
  }
  return false;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Unmount everything mounted at `dir`; a busy mount is detached lazily (`umount -l`). */
export async function unmountAll(dir: string): Promise<void> {
  for (let i = 0; i < MAX_STACKED && (await isMountPoint(dir)); i++) {
    try {
      await runCommand('umount', [dir]);
    } catch {
      await runCommand('umount', ['-l', dir]);
    }
  }
  if (await isMountPoint(dir)) throw new Error(`${dir} is still a mount point after ${MAX_STACKED} unmounts`);
}

/** Mount a fresh tmpfs of `size` at `dir` (mode 0700: only root reaches the snapshots). */
export async function mountTmpfs(dir: string, size: string): Promise<void> {
  await runCommand('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'snaphost-memory', dir]);
}
