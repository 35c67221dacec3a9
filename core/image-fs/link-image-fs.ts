/**
 * kubelet's image file system stats for a proxy snapshotter. kubelet asks CRI's `ImageFsInfo`
 * which directory holds the images and has cadvisor stat it (its device, capacity, inodes);
 * containerd's CRI plugin answers `<containerd root>/io.containerd.snapshotter.v1.<name>` for
 * the snapshotter CRI uses (containerd 1.6/1.7 always; 2.x when the plugin exports no `root`).
 * For a built-in snapshotter containerd made that directory; for a proxy snapshotter nothing
 * does, and cadvisor fails with "failed to get device for dir".
 *
 * With the daemon setting `containerdRoot`, snaphost keeps that path as a symbolic link to the
 * backend's root, so the stats are those of the file system the backend really fills:
 * - missing: the link is made (and containerd's root, mode 0711 as containerd makes it);
 * - a link (to an old root, say): pointed at the current root, atomically (temp link + rename);
 * - anything else (a real directory or file: containerd's own snapshotter of that name, or
 *   data): left alone, reported as `skipped` with the reason. Never replaced.
 */
import { lstat, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';

/** containerd's plugin type of snapshotters, the prefix of their directories under its root. */
export const SNAPSHOTTER_PLUGIN_TYPE = 'io.containerd.snapshotter.v1';

export type ImageFsLink =
  | { path: string; action: 'created' | 'kept' }
  | { path: string; action: 'replaced'; previous: string }
  | { path: string; action: 'skipped'; reason: string };

/** The directory containerd's CRI plugin names for snapshotter `name` (CRI's `imageFSPath`). */
export function imageFsPath(containerdRoot: string, name: string): string {
  if (!path.isAbsolute(containerdRoot)) throw new Error(`containerdRoot must be an absolute path, not '${containerdRoot}'`);
  if (name === '' || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new Error(`'${name}' cannot be part of a directory name under containerd's root`);
  }
  return path.join(containerdRoot, `${SNAPSHOTTER_PLUGIN_TYPE}.${name}`);
}

/** Make `<containerdRoot>/io.containerd.snapshotter.v1.<name>` a link to `root` (see the file comment). */
export async function linkImageFs(containerdRoot: string, name: string, root: string): Promise<ImageFsLink> {
  if (!path.isAbsolute(root)) throw new Error(`the backend root must be an absolute path, not '${root}'`);
  const at = imageFsPath(containerdRoot, name);
  const existing = await lstat(at).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing && !existing.isSymbolicLink()) {
    const what = existing.isDirectory() ? 'a directory' : 'a file that is not a link';
    return { path: at, action: 'skipped', reason: `${at} is ${what} (containerd's own snapshotter of that name, or data): left as is, so kubelet's image file system stats are not those of ${root}` };
  }
  if (existing) {
    const previous = await readlink(at);
    if (previous === root) return { path: at, action: 'kept' };
    await placeLink(at, root);
    return { path: at, action: 'replaced', previous };
  }
  await mkdir(containerdRoot, { recursive: true, mode: 0o711 });
  await placeLink(at, root);
  return { path: at, action: 'created' };
}

/** A link at `at` to `target`, made under a temporary name and renamed into place. */
async function placeLink(at: string, target: string): Promise<void> {
  const tmp = `${at}.snaphost-${process.pid}-${Date.now()}`;
  await symlink(target, tmp);
  try {
    await rename(tmp, at);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
