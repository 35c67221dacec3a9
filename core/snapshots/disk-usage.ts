/**
 * Disk usage of a directory tree, as containerd measures a snapshot's layer
 * (containerd: continuity fs.DiskUsage): size is the allocated blocks (`st_blocks * 512`, so a
 * sparse file counts what it really uses), inodes the number of distinct inodes. Hard links
 * count once; symlinks are not followed; other file systems mounted inside are not entered.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Usage } from './snapshotter.js';

const BLOCK_UNIT = 512n;
/** How many entries of one directory are stat'ed at once. */
const BATCH = 64;

/**
 * Usage of the tree at `root` (the root itself included). Entries that vanish during the walk
 * are skipped (an active snapshot may be in use); a missing `root` rejects with ENOENT.
 * Rejects with the signal's reason when `signal` aborts.
 */
export async function diskUsage(root: string, signal?: AbortSignal): Promise<Usage> {
  const rootStat = await lstat(root, { bigint: true });
  const seen = new Set<string>();
  let size = 0n;

  const count = (st: BigIntStats): void => {
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    size += st.blocks * BLOCK_UNIT;
  };

  count(rootStat);
  if (!rootStat.isDirectory()) return toUsage(size, seen.size);

  const dirs = [root];
  while (dirs.length > 0) {
    signal?.throwIfAborted();
    const dir = dirs.pop()!;
    const names = await ignoreVanished(readdir(dir));
    if (!names) continue;
    for (let i = 0; i < names.length; i += BATCH) {
      signal?.throwIfAborted();
      const batch = names.slice(i, i + BATCH).map((name) => path.join(dir, name));
      const stats = await Promise.all(batch.map((p) => ignoreVanished(lstat(p, { bigint: true }))));
      stats.forEach((st, j) => {
        if (!st || st.dev !== rootStat.dev) return; // vanished, or another mount: not ours
        count(st);
        if (st.isDirectory()) dirs.push(batch[j]!);
      });
    }
  }
  return toUsage(size, seen.size);
}

function toUsage(size: bigint, inodes: number): Usage {
  return { size: Number(size), inodes };
}

async function ignoreVanished<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}
