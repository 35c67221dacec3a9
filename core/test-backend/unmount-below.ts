/** Unmount everything still mounted at or below a directory (deepest first), before deleting it. */
import { readMountTable } from '../mounts/mount-table.js';
import { unmount } from '../mounts/unmount.js';

export async function unmountBelow(dir: string): Promise<string[]> {
  const points = (await readMountTable())
    .map((m) => m.mountpoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  const failed: string[] = [];
  for (const p of points) {
    await unmount(p).catch(() => failed.push(p));
  }
  return failed;
}
