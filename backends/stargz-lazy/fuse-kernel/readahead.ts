/**
 * The read-ahead window of a layer mount, raised to what one request can carry (max_read).
 *
 * The kernel reads a FUSE file through the page cache in windows of the mount's read-ahead
 * (its bdi's `read_ahead_kb`), which starts at 128 KiB and which INIT can only lower; max_read
 * and max_pages bound a request, not the window. So a sequential read would still arrive in
 * 128 KiB requests. The bdi of a FUSE mount is named after its device (`0:<minor>`), and its
 * `read_ahead_kb` is writable by root: set after the mount, it applies to the files opened from
 * then on (a layer's first opens come after the mount returns).
 *
 * The device comes from /proc/self/mountinfo (the mount itself is never stat'ed: fused never
 * touches its own mounts, see fused/served-mounts.ts). Where sysfs is read-only (a container
 * without /sys write access), the window stays at the kernel's default: said once per process.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Logger } from '../../../core/sdk.js';

let warned = false;

/** The `major:minor` of the last mount of type `fstype` at `mountpoint` in a mountinfo text, or undefined. */
export function deviceOf(mountinfo: string, mountpoint: string, fstype: string): string | undefined {
  let found: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f[sep + 1] !== fstype) continue;
    const at = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (at === mountpoint) found = f[2];
  }
  return found;
}

/** Sets the read-ahead of the FUSE mount of `fstype` at `mountpoint` to `kb`; true when it was set. */
export async function raiseReadahead(mountpoint: string, fstype: string, kb: number, log: Logger, sysfs = '/sys/class/bdi'): Promise<boolean> {
  const dev = deviceOf(await readFile('/proc/self/mountinfo', 'utf8'), mountpoint, fstype);
  const file = `${sysfs}/${dev ?? '?'}/read_ahead_kb`;
  try {
    if (dev === undefined || !/^\d+:\d+$/.test(dev)) throw new Error(`no ${fstype} mount at ${mountpoint} in /proc/self/mountinfo`);
    await writeFile(file, `${kb}\n`);
    return true;
  } catch (err) {
    if (!warned) {
      warned = true;
      log.warn({ err, file }, `cannot raise the read-ahead of kernel FUSE mounts to ${kb} KiB (${(err as Error).message}): sequential reads arrive in the kernel's default window`);
    }
    return false;
  }
}
