/**
 * A layer mount taken over from a previous FUSE-serving process (the keeper handed its
 * /dev/fuse descriptor over): served without mounting (mount-kernel.ts's serveLayerConnection),
 * then FUSE_NOTIFY_RESEND asks the kernel to send again every request the dead process had
 * read and not answered (Linux >= 6.9; they carry the resend bit in `unique`). On an older
 * kernel the notification is refused: new requests are served, and those the dead process had
 * read stay unanswered until the caller gives up (a warning says so).
 * Unmounting is the same lazy, bounded detach as a mount of this process.
 */
import type { Logger } from '../../../../core/sdk.js';
import { boundedUnmount } from '../../fs/bounded-unmount.js';
import { FUSE_SUBTYPE, fsnameOf } from '../../fs/fuse-mount.js';
import type { LayerReader } from '../../fs/layer-fs.js';
import { MNT_DETACH } from '../fuse-device.js';
import { kernelDevice, serveLayerConnection, type KernelMount, type MountLayerKernelOptions } from '../mount-kernel.js';
import { maxPagesLimit } from '../max-pages.js';
import { notifyResend } from '../wire/notify.js';

const DETACH_TIMEOUT_MS = 8_000;

export async function resumeLayerKernel(fd: number, mountpoint: string, layer: LayerReader, digest: string, o: MountLayerKernelOptions): Promise<KernelMount> {
  const device = kernelDevice(o.device);
  const maxPages = await maxPagesLimit();
  const { session, counters, passthrough, passthroughState } = serveLayerConnection(fd, layer, digest, { ...o, device, maxPages });
  const resend = device.writev(fd, notifyResend());
  if (resend < 0) warnNoResend(o.log, mountpoint, -resend);
  else o.log.info({ mountpoint }, 'took the layer connection over; the kernel resends what the previous process had not answered');
  let unmounting: Promise<void> | undefined;
  const detach = async (): Promise<void> => {
    const r = device.umount(mountpoint, MNT_DETACH);
    if (r < 0) throw Object.assign(new Error(`umount2(${mountpoint}, MNT_DETACH): errno ${-r}`), { errno: -r });
  };
  const unmount = (): Promise<void> =>
    (unmounting ??= boundedUnmount(mountpoint, detach, {
      fstype: `fuse.${FUSE_SUBTYPE}`,
      source: fsnameOf(digest),
      timeoutMs: o.detachTimeoutMs ?? DETACH_TIMEOUT_MS,
      log: o.log,
    }).catch((err: unknown) => {
      unmounting = undefined;
      throw err;
    }));
  return { mountpoint, unmount, counters, session, fd, passthrough, passthroughState };
}

function warnNoResend(log: Logger, mountpoint: string, errno: number): void {
  log.warn({ mountpoint, errno }, 'the kernel refused FUSE_NOTIFY_RESEND (Linux < 6.9?): requests the previous process had read stay unanswered; new ones are served');
}
