/**
 * Opens a complete file (cache/complete-files.ts) read-only for FUSE_DEV_IOC_BACKING_OPEN, and
 * checks it is still the very file that was verified (its fstat identity: a file rewritten or
 * replaced since is refused, never handed to the kernel). Synchronous: an open and an fstat of a
 * local file, on the FUSE thread, once per backing id (opens of a file already passed through
 * reuse its id and do no I/O at all).
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { identityOf } from '../../cache/file-identity.js';
import type { CompleteFile } from '../../cache/complete-files.js';

export type BackingFd = { fd: number } | { reason: string; changed: boolean };

export function openBackingFile(file: CompleteFile): BackingFd {
  let fd: number;
  try {
    // libuv opens with O_CLOEXEC itself.
    fd = openSync(file.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    // Evicted (ENOENT) since the index said it was there, or unreadable: served through JS.
    return { reason: `cannot open it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, changed: false };
  }
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size === file.size && identityOf(st) === file.identity) return { fd };
    closeSync(fd);
    return { reason: 'it changed since it was verified', changed: true };
  } catch (err) {
    closeSync(fd);
    return { reason: `cannot stat it: ${(err as Error).message}`, changed: false };
  }
}
