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
 * The device number comes from a stat of the mountpoint through the thread pool (this thread
 * answers the GETATTR it causes). Where sysfs is read-only (a container without /sys write
 * access), the window stays at the kernel's default: said once per process, not an error.
 */
import { stat, writeFile } from 'node:fs/promises';
import type { Logger } from '../../../core/sdk.js';

let warned = false;

/** Linux's split of a dev_t (new_decode_dev). */
export function bdiNameOf(dev: number): string {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  return `${major}:${minor}`;
}

/** Sets the read-ahead of the FUSE mount at `mountpoint` to `kb`; true when it was set. */
export async function raiseReadahead(mountpoint: string, kb: number, log: Logger, sysfs = '/sys/class/bdi'): Promise<boolean> {
  const file = `${sysfs}/${bdiNameOf((await stat(mountpoint)).dev)}/read_ahead_kb`;
  try {
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
