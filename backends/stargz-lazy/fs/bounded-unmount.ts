/**
 * A bounded lazy unmount. fuse-native's own unmount (`fusermount -uz` through `exec`, behind
 * nanoresource's close, which first waits for a pending open) has no deadline: when it does not
 * finish, every later operation on that mountpoint would wait behind it forever. Here it gets
 * `timeoutMs`; after that (or when it fails) the mount table decides: the mount is gone, or
 * another file system is mounted there now (not ours: left alone), or it is still ours and is
 * detached with `umount -l`, itself bounded. Either way the caller has an answer in at most
 * about three times `timeoutMs`.
 *
 * The deadlines do not rely on the child processes exiting (a process stuck in the kernel
 * ignores signals until it returns), so a hung command is left behind, logged, not awaited.
 */
import { UnavailableError, type Logger } from '../../../core/sdk.js';
import { detachMount, mountAt, type MountInfoEntry } from '../../../core/sdk-overlay.js';

export interface BoundedUnmountOptions {
  /** What this file system looks like in /proc/self/mountinfo. */
  fstype: string;
  source: string;
  /** Deadline of each step (the primary unmount, the mount table read, `umount -l`). */
  timeoutMs: number;
  log: Logger;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string; err?: unknown };

/** Runs `unmount` (the primary, lazy unmount of `mountpoint`) with a deadline, falling back to `umount -l`. */
export async function boundedUnmount(mountpoint: string, unmount: () => Promise<void>, o: BoundedUnmountOptions): Promise<void> {
  const first = await within(unmount(), o.timeoutMs, 'the FUSE unmount');
  if (first.ok) return;
  const table = await within(mountAt(mountpoint), o.timeoutMs, 'reading /proc/self/mountinfo');
  if (!table.ok) throw new UnavailableError(`cannot unmount ${mountpoint}: ${first.reason}, and ${table.reason}`, { cause: first.err });
  if (!isOurs(table.value, o)) {
    const now = table.value ? `${table.value.fstype} from ${table.value.source}` : 'nothing';
    o.log.warn({ mountpoint, reason: first.reason, err: first.err, mountedNow: now }, `${first.reason}; the layer is no longer mounted at ${mountpoint} (mount table shows ${now})`);
    return;
  }
  o.log.warn({ mountpoint, reason: first.reason, err: first.err }, `${first.reason}; detaching ${mountpoint} with umount -l`);
  const fallback = await within(detachMount(mountpoint, { canonicalize: true, timeoutMs: o.timeoutMs }), o.timeoutMs, 'umount -l');
  if (!fallback.ok) {
    throw new UnavailableError(`cannot unmount ${mountpoint}: ${first.reason}, and ${fallback.reason}`, { cause: fallback.err });
  }
  o.log.info({ mountpoint }, `detached ${mountpoint} with umount -l`);
}

function isOurs(m: MountInfoEntry | undefined, o: BoundedUnmountOptions): boolean {
  return m !== undefined && m.fstype === o.fstype && m.source === o.source;
}

/** Settles with the outcome of `p`, or as failed after `ms` (`p` is then left running; its late failure is ignored). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, reason: `${what} did not finish within ${ms} ms` }), ms);
    p.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, reason: `${what} failed: ${err instanceof Error ? err.message : String(err)}`, err });
      },
    );
  });
}
