/**
 * The warm-up's temporary directories (`<tmp>/snaphost-fused-warm-up-<pid>-XXXXXX`, a chunk
 * cache of a few hundred small files). A warm-up removes its own in `finally`; a FUSE process
 * killed during its warm-up (SIGKILL, an OOM kill, a node reboot's kill-all) cannot, and tests
 * that kill fused piled such directories up in /tmp. So every warm-up first removes the ones
 * whose process is gone, or that are older than any warm-up runs (pids are reused), and keeps
 * those of live FUSE processes (two generations run at once during an upgrade).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { processRuns } from '../protocol/process-runs.js';

export const WARM_UP_DIR_PREFIX = 'snaphost-fused-warm-up-';
/** A warm-up takes seconds; a directory this old is a leftover whatever its pid says. */
export const STALE_WARM_UP_MS = 10 * 60_000;

/** Makes this process's warm-up directory under `parent`. */
export function makeWarmUpDir(parent: string, pid = process.pid): Promise<string> {
  return mkdtemp(join(parent, `${WARM_UP_DIR_PREFIX}${pid}-`));
}

export interface SweepOptions {
  /** Whether process `pid` runs. Default: signal 0. */
  isAlive?: (pid: number) => boolean;
  now?: number;
}

/**
 * Removes the warm-up directories under `parent` left by processes that no longer run (or older
 * than STALE_WARM_UP_MS; names without a pid, from builds before the pid was in the name, go by
 * age alone). Answers how many were removed; a directory that cannot be removed is skipped.
 */
export async function sweepWarmUpDirs(parent: string, o: SweepOptions = {}): Promise<number> {
  const alive = o.isAlive ?? processRuns;
  const now = o.now ?? Date.now();
  let removed = 0;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(WARM_UP_DIR_PREFIX)) continue;
    const path = join(parent, name);
    const st = await stat(path).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(WARM_UP_DIR_PREFIX.length))?.[1]);
    const stale = now - st.mtimeMs > STALE_WARM_UP_MS;
    if (!stale && (!Number.isSafeInteger(pid) || pid <= 0 || alive(pid))) continue;
    try {
      await rm(path, { recursive: true, force: true });
      removed++;
    } catch {
      // Someone else's, or already going: the next warm-up tries again.
    }
  }
  return removed;
}
