/**
 * Refuse to start where overlayfs cannot work, with a message that says why: the kernel has
 * no overlay file system, or the root's file system cannot hold overlay upper/work dirs
 * (containerd's overlayutils.Supported does the same test mount).
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from './run-command.js';

/** True when /proc/filesystems lists `overlay` (a module that is not loaded yet is not listed). */
async function kernelListsOverlay(): Promise<boolean> {
  const table = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  return table.split('\n').some((line) => line.split('\t').pop()?.trim() === 'overlay');
}

/** Mount a two-lower overlay in a temp dir under `root` and unmount it; throws a clear Error. */
export async function checkOverlaySupport(root: string): Promise<void> {
  const listed = await kernelListsOverlay();
  const dir = await mkdtemp(path.join(root, 'overlay-check-'));
  try {
    const [lower1, lower2, upper, work, merged] = ['lower1', 'lower2', 'upper', 'work', 'merged'].map((d) => path.join(dir, d)) as [string, string, string, string, string];
    for (const d of [lower1, lower2, upper, work, merged]) await mkdir(d);
    const options = `lowerdir=${lower2}:${lower1},upperdir=${upper},workdir=${work}`;
    try {
      await runCommand('mount', ['-t', 'overlay', '-o', options, 'overlay', merged]);
    } catch (err) {
      const why = listed
        ? `the file system of ${root} cannot be used for overlay upper and work directories (overlay on overlay, or no d_type?)`
        : 'the kernel has no overlay file system (not in /proc/filesystems; try `modprobe overlay`)';
      throw new Error(`overlayfs is not usable: ${why}: ${(err as Error).message}`, { cause: err });
    }
    await runCommand('umount', [merged]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
