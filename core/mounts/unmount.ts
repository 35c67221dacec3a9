/**
 * Unmounting, the one place snaphost runs `umount`: a plain unmount that falls back to a lazy
 * detach (`umount -l`, MNT_DETACH: the mount leaves the tree now, files in use keep working
 * until closed) when the mount is busy, and the lazy detach alone. Both run `umount` as a
 * child process with a deadline (run-command.ts).
 */
import { runCommand } from '../overlay/run-command.js';

export interface DetachOptions {
  /** Deadline of `umount -l` (default 30 s). */
  timeoutMs?: number;
  /**
   * Let `umount` canonicalise the path (default false: `-c`). Canonicalising stats the path,
   * which fails with ENOTCONN on a FUSE mount whose process is gone.
   */
  canonicalize?: boolean;
}

/** Detach the mount at `mountpoint` now (`umount -l`); rejects with the command's error (CommandError). */
export async function detachMount(mountpoint: string, o: DetachOptions = {}): Promise<void> {
  const args = o.canonicalize === true ? ['-l', mountpoint] : ['-l', '-c', mountpoint];
  await runCommand('umount', args, { timeoutMs: o.timeoutMs ?? 30_000 });
}

/**
 * Unmount `mountpoint` (`umount`); when that fails (busy), detach it lazily (`umount -l`).
 * Rejects with the error of `umount -l` when that fails too. Each step has 60 s.
 */
export async function unmount(mountpoint: string): Promise<void> {
  try {
    await runCommand('umount', [mountpoint], { timeoutMs: 60_000 });
  } catch {
    await detachMount(mountpoint, { canonicalize: true, timeoutMs: 60_000 });
  }
}
