/**
 * What changes behind the FUSE-serving process's back, looked at every `everyMs`:
 *
 * - A layer mount removed from outside (`umount -l` by an admin, a containerd cleanup that
 *   crashed half-way): /proc/self/mountinfo no longer shows this file system for that layer at
 *   its mountpoint. The kernel ends the FUSE connection once nothing holds the detached mount
 *   (libfuse's loop then returns and closes its /dev/fuse descriptor), but nothing tells the
 *   JavaScript side: without this look the mount table kept the layer, so the process counted
 *   as busy forever and never exited. `onVanished(mountpoint)` is called for each (the mount
 *   table checks again under its per-mountpoint order and releases the layer).
 * - Its root directory or control socket removed or replaced (an admin's `rm -rf`, a new
 *   process on a re-created root): no client can reach this process any more. `onOrphaned`
 *   is called once, with the reason.
 *
 * Only files are read (mountinfo, an lstat of the root and socket), never a mountpoint: a
 * look at a mount this process serves would wait for this process. /proc/self/mountinfo also
 * signals changes through poll(2) (POLLPRI), which Node cannot wait for; a bounded periodic
 * read is the portable form (one read of a table of a few hundred lines: ~0.1 ms).
 */
import { lstat } from 'node:fs/promises';
import type { Logger } from '../../../core/sdk.js';
import { isMountedAt, readMountTable, type MountInfoEntry } from '../../../core/sdk-overlay.js';

/** A mount the process serves and what mountinfo must show for it. */
export interface ExpectedMount {
  mountpoint: string;
  fstype: string;
  source: string;
}

export interface OutsideWatchOptions {
  /** How often to look; 0: never. */
  everyMs: number;
  root: string;
  socket: string;
  /** The mounts served now (state mounted). */
  served: () => readonly ExpectedMount[];
  onVanished: (mountpoint: string) => void;
  /** Called once, when the root or the socket is gone or replaced. */
  onOrphaned: (reason: string) => void;
  /** Called after each look (main.ts ends an orphaned process that serves no layer). */
  afterCheck?: () => void;
  log: Logger;
  /** For tests; default: /proc/self/mountinfo. */
  readTable?: () => Promise<MountInfoEntry[]>;
}

export interface OutsideWatch {
  stop(): void;
}

/** The served mounts that `table` no longer shows. */
export function vanishedMounts(table: readonly MountInfoEntry[], served: readonly ExpectedMount[]): string[] {
  return served.filter((m) => !isMountedAt(table, m.mountpoint, m.fstype, m.source)).map((m) => m.mountpoint);
}

/** Starts looking; the identity (device and inode) of the root and socket is taken now. */
export async function watchOutside(o: OutsideWatchOptions): Promise<OutsideWatch> {
  if (o.everyMs === 0) return { stop: () => undefined };
  const readTable = o.readTable ?? readMountTable;
  const identities = { root: await identityOf(o.root), socket: await identityOf(o.socket) };
  let orphaned = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const check = async () => {
    const served = o.served();
    if (served.length > 0) {
      for (const mp of vanishedMounts(await readTable(), served)) o.onVanished(mp);
    }
    if (!orphaned) {
      const reason = (await changed('root directory', o.root, identities.root)) ?? (await changed('control socket', o.socket, identities.socket));
      if (reason !== undefined) {
        orphaned = true;
        o.onOrphaned(reason);
      }
    }
    o.afterCheck?.();
  };
  const schedule = () => {
    if (stopped) return;
    // One look at a time: the next is scheduled when this one is over.
    timer = setTimeout(() => {
      check()
        .catch((err: unknown) => o.log.warn({ err }, 'cannot check the mount table and root directory'))
        .finally(schedule);
    }, o.everyMs);
    timer.unref();
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

interface Identity {
  dev: number;
  ino: number;
}

async function identityOf(path: string): Promise<Identity | undefined> {
  try {
    const st = await lstat(path);
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Why `path` is no longer what it was at the start, or undefined. */
async function changed(what: string, path: string, was: Identity | undefined): Promise<string | undefined> {
  if (was === undefined) return undefined;
  const now = await identityOf(path);
  if (now === undefined) return `the ${what} ${path} was removed`;
  if (now.dev !== was.dev || now.ino !== was.ino) return `the ${what} ${path} was replaced`;
  return undefined;
}
