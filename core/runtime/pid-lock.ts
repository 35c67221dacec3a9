/**
 * A lock file owned by one live process: `{ pid, start }` where `start` is the kernel's start
 * time of that process (field 22 of /proc/<pid>/stat), so a PID reused by an unrelated process
 * after a crash does not keep the lock. Used for backend roots and for the stargz-lazy FUSE
 * process, and available to backends through the SDK.
 *
 * Atomic, so that of any number of processes starting at once exactly one wins:
 * - Taking a free lock: the owner record is written whole to a temp file beside the lock,
 *   which is then `link()`ed to the lock path. link fails with EEXIST if the path exists, and
 *   the lock file never exists empty or half-written (an O_EXCL create followed by a write
 *   let a second process read the still-empty file of a live owner, take it for garbage and
 *   win too: 4 races in 60).
 * - Taking over a stale lock (its owner is dead): only under a takeover mutex, an abstract
 *   unix socket bound for the few steps of the takeover (the kernel releases it when its
 *   process dies, so the mutex itself can never go stale). Under it the lock is read again;
 *   if it still names a dead owner it is unlinked and our temp file linked in its place.
 *   Nobody else can change the path meanwhile: a newcomer only links where nothing is, a live
 *   owner's `release()` only removes its own record, and other takeovers wait for the mutex.
 *   (Abstract sockets are per network namespace: processes in different network namespaces
 *   sharing one root are still kept apart by link(), only two simultaneous takeovers of the
 *   same stale lock from two namespaces are not serialized.)
 * - A lock file that is not an owner record (a crash of an older snaphost mid-write) is
 *   taken over only once it is older than GARBAGE_GRACE_MS: no writer of a record takes
 *   that long, so it is not a lock being written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, open, readdir, readFile, realpath, rm, stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { FailedPreconditionError } from '../contract/errors.js';

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

/** A lock file that is not an owner record is garbage once it is this old (ms). */
export const GARBAGE_GRACE_MS = 1000;
/** How long a takeover waits for another process's takeover of the same lock (ms). */
const MUTEX_WAIT_MS = 10_000;

export async function acquirePidLock(file: string): Promise<PidLock> {
  const me: Owner = { pid: process.pid, start: (await startTime(process.pid)) ?? '' };
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(me)}\n`);
  } finally {
    await fh.close();
  }
  try {
    const deadline = Date.now() + MUTEX_WAIT_MS + GARBAGE_GRACE_MS;
    for (;;) {
      if (await tryLink(tmp, file)) break;
      const seen = await readLock(file);
      if (seen.kind === 'owner' && (await isAlive(seen.owner))) throw new LockHeldError(file, seen.owner.pid);
      if (seen.kind === 'missing') continue; // released meanwhile: link again
      if (seen.kind === 'garbage' && seen.ageMs < GARBAGE_GRACE_MS) {
        if (Date.now() > deadline) throw new FailedPreconditionError(`cannot lock ${file}: it is not a lock record and keeps changing`);
        await sleep(Math.min(50, GARBAGE_GRACE_MS - seen.ageMs + 1));
        continue;
      }
      // Dead owner or old garbage: take over, atomically with respect to other takers.
      const won = await withTakeoverMutex(file, async () => {
        const now = await readLock(file);
        if (now.kind === 'owner' && (await isAlive(now.owner))) throw new LockHeldError(file, now.owner.pid);
        if (now.kind === 'garbage' && now.ageMs < GARBAGE_GRACE_MS) return false;
        if (now.kind !== 'missing') await unlink(file).catch(ignoreMissing);
        return tryLink(tmp, file);
      });
      if (won) break;
      if (Date.now() > deadline) throw new FailedPreconditionError(`cannot lock ${file}: it keeps reappearing`);
    }
  } finally {
    await rm(tmp, { force: true });
  }
  await removeDeadTemps(file);
  return {
    file,
    async release() {
      const seen = await readLock(file);
      if (seen.kind === 'owner' && seen.owner.pid === me.pid && seen.owner.start === me.start) await rm(file, { force: true });
    },
  };
}

/**
 * Remove the temp files `<lock>.<pid>.<hex>.tmp` of processes that died between writing one
 * and linking it (a crash in that window would otherwise leave it forever). Those of live
 * processes are theirs to remove.
 */
async function removeDeadTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length)) : null;
    if (m && (await startTime(Number(m[1]))) === undefined) await rm(path.join(dir, name), { force: true });
  }
}

/** link(tmp, file): true when it made the lock, false when the lock path exists. */
async function tryLink(tmp: string, file: string): Promise<boolean> {
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

type Seen = { kind: 'missing' } | { kind: 'owner'; owner: Owner } | { kind: 'garbage'; ageMs: number };

async function readLock(file: string): Promise<Seen> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(file, 'utf8'), stat(file).then((s) => s.mtimeMs)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && Number.isInteger((v as Owner).pid) && typeof (v as Owner).start === 'string') {
      return { kind: 'owner', owner: v as Owner };
    }
  } catch {
    // not an owner record
  }
  return { kind: 'garbage', ageMs: Date.now() - mtimeMs };
}

/**
 * Run `fn` holding the takeover mutex of `file`: the abstract unix socket named by a hash of
 * the lock's real path, bound by at most one process at a time and released by the kernel
 * when that process exits, however it exits.
 */
async function withTakeoverMutex<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const real = path.join(await realpath(path.dirname(file)), path.basename(file));
  const name = `\0snaphost-pid-lock:${createHash('sha256').update(real).digest('hex')}`;
  const server = net.createServer();
  server.unref();
  const deadline = Date.now() + MUTEX_WAIT_MS;
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: name, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (Date.now() > deadline) throw new FailedPreconditionError(`cannot lock ${file}: another process has been taking it over for ${MUTEX_WAIT_MS} ms`);
      await sleep(2 + Math.random() * 8);
    }
  }
  try {
    return await fn();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
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

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
