/**
 * `fusedMemoryLimitBytes` on the cgroup the FUSE-serving process entered on the host
 * (enter-cgroup.ts): cgroup v2 `memory.high` at the limit (above it the kernel reclaims and
 * throttles, never kills) and `memory.max` at twice it; cgroup v1's memory hierarchy
 * `memory.soft_limit_in_bytes` and `memory.limit_in_bytes` the same. Twice, because the cgroup
 * is shared by every generation of the process (an upgrade runs an old one next to a new one
 * until the old one's layers are released) and the page cache of the chunk files it writes is
 * charged to it (reclaimable: `memory.high` takes it back first).
 *
 * Where the hierarchy does not allow it (no memory controller delegated to the cgroup, a
 * read-only hierarchy) that is reported, not fatal: the process serves within its V8 limits.
 */
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface CgroupMemoryResult {
  dir: string;
  /** Files written, with their values. */
  set?: Record<string, number>;
  /** Why nothing (or not everything) was set. */
  problem?: string;
}

/** The files and values for a cgroup directory of the given kind. */
export function memoryLimitFiles(kind: 'v2' | 'v1', limitBytes: number): Record<string, number> {
  if (!Number.isSafeInteger(limitBytes) || limitBytes <= 0) throw new RangeError(`memory limit must be a positive integer, got ${limitBytes}`);
  return kind === 'v2'
    ? { 'memory.high': limitBytes, 'memory.max': 2 * limitBytes }
    : { 'memory.limit_in_bytes': 2 * limitBytes, 'memory.soft_limit_in_bytes': limitBytes };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Sets the limits on each of `dirs` that has a memory controller; one result per such directory (or one saying none had). */
export async function limitCgroupMemory(dirs: readonly string[], limitBytes: number): Promise<CgroupMemoryResult[]> {
  const out: CgroupMemoryResult[] = [];
  for (const dir of dirs) {
    const kind = (await exists(path.join(dir, 'memory.high'))) ? 'v2' : (await exists(path.join(dir, 'memory.limit_in_bytes'))) ? 'v1' : undefined;
    if (kind === undefined) continue;
    const set: Record<string, number> = {};
    try {
      // v1 refuses a soft limit above the hard one and a hard one below usage: the hard one first.
      for (const [file, value] of Object.entries(memoryLimitFiles(kind, limitBytes))) {
        await writeFile(path.join(dir, file), `${value}\n`);
        set[file] = value;
      }
      out.push({ dir, set });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      out.push({ dir, set, problem: `cannot set its memory limits: ${e.code ?? e.message}` });
    }
  }
  if (out.length === 0) out.push({ dir: dirs.join(', '), problem: 'no memory controller in these cgroups (not delegated to them): limited by V8 heap limits only' });
  return out;
}
