/**
 * `fusedMemoryLimitBytes` on the cgroup the FUSE-serving process entered on the host
 * (enter-cgroup.ts), as `cgroupLimitsOf` (protocol/memory-budget.ts) sets them: cgroup v2
 * `memory.high` (above it the kernel reclaims and throttles, never kills) and `memory.max`;
 * cgroup v1's memory hierarchy `memory.soft_limit_in_bytes` and `memory.limit_in_bytes`. The
 * page cache of the chunk files the process writes is charged to the cgroup too (reclaimable:
 * `memory.high` takes it back first).
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

export interface CgroupLimits {
  /** Reclaim and throttle above it. */
  high: number;
  /** The kernel kills above it. */
  max: number;
}

/** The files and values for a cgroup directory of the given kind. */
export function memoryLimitFiles(kind: 'v2' | 'v1', limits: CgroupLimits): Record<string, number> {
  const { high, max } = limits;
  if (!Number.isSafeInteger(high) || high <= 0 || !Number.isSafeInteger(max) || max < high) {
    throw new RangeError(`memory limits must be positive integers with high <= max, got ${high} and ${max}`);
  }
  return kind === 'v2' ? { 'memory.high': high, 'memory.max': max } : { 'memory.limit_in_bytes': max, 'memory.soft_limit_in_bytes': high };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Sets the limits on each of `dirs` that has a memory controller; one result per such directory (or one saying none had). */
export async function limitCgroupMemory(dirs: readonly string[], limits: CgroupLimits): Promise<CgroupMemoryResult[]> {
  const out: CgroupMemoryResult[] = [];
  for (const dir of dirs) {
    const kind = (await exists(path.join(dir, 'memory.high'))) ? 'v2' : (await exists(path.join(dir, 'memory.limit_in_bytes'))) ? 'v1' : undefined;
    if (kind === undefined) continue;
    const set: Record<string, number> = {};
    try {
      // v1 refuses a soft limit above the hard one and a hard one below usage: the hard one first.
      for (const [file, value] of Object.entries(memoryLimitFiles(kind, limits))) {
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
