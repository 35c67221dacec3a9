/**
 * An exclusive claim on a backend's root directory, held for as long as the instance runs, so
 * that a second snaphost started on the same config (or two entries of different configs that
 * share a root) fails BEFORE its backend's `create` can touch the first one's state — a
 * `memory` backend, for example, replaces a tmpfs it finds mounted.
 *
 * The claim is a file `<root>/.snaphost.lock` holding the owner's PID and the kernel's start
 * time of that process (field 22 of /proc/<pid>/stat), so a PID reused by an unrelated process
 * after a crash does not keep the root locked. Creation uses O_EXCL; a lock whose owner is gone
 * is taken over.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { BackendContractError } from '../errors.js';

export const LOCK_FILE = '.snaphost.lock';

export interface RootLock {
  readonly file: string;
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  start: string;
}

export async function lockRoot(backend: string, root: string): Promise<RootLock> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const file = path.join(root, LOCK_FILE);
  const me: Owner = { pid: process.pid, start: await startTime(process.pid) ?? '' };
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
    if (owner && (await isAlive(owner))) {
      const who = owner.pid === process.pid ? 'another backend of this process' : `process ${owner.pid}`;
      throw new BackendContractError(backend, `root ${root} is in use by ${who} (lock ${file}); two instances must not share a root`);
    }
    // The owner is gone (or the file is unreadable garbage from a crash mid-write): take over.
    await rm(file, { force: true });
  }
  throw new BackendContractError(backend, `cannot lock root ${root}: ${file} keeps reappearing`);
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
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall; fields[0] is field 3
  } catch {
    return undefined;
  }
}
