/**
 * One FUSE-serving process per root: `<root>/fused.lock` holds the owner's PID and the kernel's
 * start time of that process (field 22 of /proc/<pid>/stat), created with O_EXCL. A lock whose
 * owner is gone (or is another process that reused the PID) is taken over. Two processes
 * started at once (two snaphost starts racing) cannot both win; the loser exits and its client
 * finds the winner on the socket.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError } from '../../../core/sdk.js';

export const LOCK_FILE = 'fused.lock';

export interface InstanceLock {
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  start: string;
}

export async function lockInstance(root: string): Promise<InstanceLock> {
  const file = join(root, LOCK_FILE);
  const me: Owner = { pid: process.pid, start: (await startTime(process.pid)) ?? '' };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(me)}\n`);
      } finally {
        await fh.close();
      }
      return {
        async release() {
          const owner = await readOwner(file);
          if (owner && owner.pid === me.pid && owner.start === me.start) await rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(file);
    if (owner && (await isAlive(owner))) {
      throw new FailedPreconditionError(`another FUSE-serving process (pid ${owner.pid}) already serves ${root} (lock ${file})`);
    }
    await rm(file, { force: true });
  }
  throw new FailedPreconditionError(`cannot lock ${file}: it keeps reappearing`);
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    const v: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (typeof v === 'object' && v !== null && Number.isInteger((v as Owner).pid) && typeof (v as Owner).start === 'string') return v as Owner;
  } catch {
    // missing, or garbage from a crash mid-write: no owner
  }
  return undefined;
}

async function isAlive(owner: Owner): Promise<boolean> {
  const start = await startTime(owner.pid);
  return start !== undefined && (owner.start === '' || start === owner.start);
}

/** Start time of `pid` in clock ticks since boot, or undefined when there is no such process. */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
