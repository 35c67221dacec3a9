/**
 * A lock file owned by one live process: `{ pid, start }` where `start` is the kernel's start
 * time of that process (field 22 of /proc/<pid>/stat), so a PID reused by an unrelated process
 * after a crash does not keep the lock. Created with O_EXCL; a lock whose owner is gone (or a
 * garbage file from a crash mid-write) is taken over. Used for backend roots and for the
 * stargz-lazy FUSE process, and available to backends through the SDK.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { FailedPreconditionError } from './errors.js';

export interface PidLock {
  readonly file: string;
  /** Remove the lock file if this process still owns it. */
  release(): Promise<void>;
}

/** The lock is held by another live process (or by this one, through another lock). */
export class LockHeldError extends FailedPreconditionError {
  constructor(
    readonly file: string,
    readonly ownerPid: number,
  ) {
    super(`${file} is held by ${ownerPid === process.pid ? 'this process' : `process ${ownerPid}`}`);
  }
}

interface Owner {
  pid: number;
  start: string;
}

export async function acquirePidLock(file: string): Promise<PidLock> {
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
        file,
        async release() {
          const owner = await readOwner(file);
          if (owner && owner.pid === me.pid && owner.start === me.start) await rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(file);
    if (owner && (await isAlive(owner))) throw new LockHeldError(file, owner.pid);
    // The owner is gone (or the file is garbage from a crash mid-write): take over.
    await rm(file, { force: true });
  }
  throw new FailedPreconditionError(`cannot lock ${file}: it keeps reappearing`);
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    const v: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (typeof v === 'object' && v !== null && Number.isInteger((v as Owner).pid) && typeof (v as Owner).start === 'string') return v as Owner;
  } catch {
    // missing or not ours: treated as no owner
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
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22 overall
  } catch {
    return undefined;
  }
}
