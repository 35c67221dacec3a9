/**
 * The kernel FUSE transport's native part, typed: the N-API addon built from ./native/ (by
 * `npm install`, scripts/build-native.mjs) that does what JavaScript cannot — open /dev/fuse,
 * mount(2)/umount2, poll the device in the event loop, the passthrough ioctls, and taking a
 * descriptor from another process (pidfd_getfd) for the connection handover.
 *
 * The addon is looked for next to this module (running from the sources, as under vitest) and at
 * the same place in the application directory (running from dist/: the addon is built in the
 * source tree and not copied into dist/). Both are literal `new URL(…)` so the runtime copy of
 * the FUSE-serving process (fused-host/runtime-files.ts) takes the built addon along.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface FuseDevice {
  /** open("/dev/fuse", O_RDWR|O_NONBLOCK|O_CLOEXEC); throws an Error with .code (ENOENT, EACCES...). */
  open(): number;
  /** mount(2) of type `fuse.<subtype>` from `source` on `target` with `flags` (MS_*) and `data`
   * (the caller writes "fd=N,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,max_read=..."). Throws with .code. */
  mount(target: string, source: string, fstype: string, flags: number, data: string): void;
  /** umount2(target, flags); returns 0 or -errno (no throw). */
  umount(target: string, flags: number): number;
  /** Polls fd in the event loop (uv_poll); on readable, reads requests until EAGAIN (at most
   * `batch` per wakeup) into `buffer` and calls onRequest(length) for each, synchronously: the
   * handler must copy out what it keeps before returning. onEnd(errno) once: ENODEV when the
   * connection was aborted/unmounted, or another errno.
   *
   * Each call runs as an event-loop callback (promises and nextTicks run after it). `buffer`
   * must be at least 8 KiB (the kernel's minimum) and hold the largest request (max_write +
   * 4 KiB). stop() ends the poll WITHOUT onEnd; it is idempotent and may be called from inside
   * onRequest (no further request is read). Call it before closing `fd`.
   *
   * An exception thrown by onRequest (or onEnd) does not end the poll or the process: it is
   * handed to process.emitWarning (a 'warning' event, printed on stderr unless listened to) and
   * the next request is read. The request it was handling gets no reply from the addon: the
   * session must answer every request itself, on failure too. */
  poll(fd: number, buffer: Buffer, batch: number, onRequest: (length: number) => void, onEnd: (errno: number) => void): { stop(): void };
  /** writev(fd, parts): bytes written or -errno (ENOENT = request already interrupted/answered); never throws. */
  writev(fd: number, parts: readonly Uint8Array[]): number;
  /** ioctl FUSE_DEV_IOC_BACKING_OPEN (Linux >= 6.9): a backing id > 0, or -errno (EPERM, EOPNOTSUPP, ENOTTY...). */
  backingOpen(fd: number, backingFd: number): number;
  /** ioctl FUSE_DEV_IOC_BACKING_CLOSE: 0 or -errno. */
  backingClose(fd: number, backingId: number): number;
  /** pidfd_open + pidfd_getfd: a duplicate in this process of another process's descriptor, or -errno. */
  takeFd(pid: number, fd: number): number;
}

/** mount(2) flags the transport uses (linux/mount.h). */
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
/** umount2(2) flags. */
export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;

const ADDON_NAME = 'snaphost_fuse_kernel.node';
const CANDIDATES = [
  new URL('./native/build/Release/snaphost_fuse_kernel.node', import.meta.url),
  new URL('../../../../backends/stargz-lazy/fuse-kernel/native/build/Release/snaphost_fuse_kernel.node', import.meta.url),
];

let loaded: FuseDevice | undefined;

/** The addon, loaded once. Throws an Error saying why when it is not built or /dev/fuse is missing. */
export function loadFuseDevice(): FuseDevice {
  if (loaded !== undefined) return loaded;
  const file = CANDIDATES.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  if (file === undefined) {
    throw new Error(
      `the kernel FUSE transport's addon ${ADDON_NAME} is not built (looked for ${CANDIDATES.map((u) => fileURLToPath(u)).join(' and ')}): ` +
        'run npm install with a C compiler (make, gcc, python3) on this machine, or select fs.transport "fuse-native"',
    );
  }
  if (!existsSync('/dev/fuse')) throw new Error('the kernel FUSE transport needs /dev/fuse, which this machine does not have (modprobe fuse; in a container: --device /dev/fuse)');
  const require = createRequire(import.meta.url);
  try {
    loaded = require(file) as FuseDevice;
  } catch (err) {
    throw new Error(`the kernel FUSE transport's addon ${file} does not load (built for another Node.js? run npm install again): ${(err as Error).message}`);
  }
  return loaded;
}
