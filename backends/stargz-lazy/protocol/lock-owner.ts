/**
 * The live owner of a FUSE-serving process's PID lock (`fused.lock`, core/runtime/pid-lock.ts:
 * `{ pid, start }`): the PID when that process is alive and is the one that took the lock (the
 * same kernel start time: not a reused PID), `undefined` otherwise.
 */
import { readFile } from 'node:fs/promises';

export async function lockOwner(lockFile: string): Promise<number | undefined> {
  let owner: { pid?: unknown; start?: unknown };
  try {
    owner = JSON.parse(await readFile(lockFile, 'utf8')) as typeof owner;
  } catch {
    return undefined;
  }
  if (typeof owner.pid !== 'number' || !Number.isInteger(owner.pid) || owner.pid <= 0 || typeof owner.start !== 'string') return undefined;
  const start = await startTime(owner.pid);
  return start !== undefined && start === owner.start ? owner.pid : undefined;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
