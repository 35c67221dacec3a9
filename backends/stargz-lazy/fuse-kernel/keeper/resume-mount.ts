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
import type { LayerReader } from '../../fs/layer-fs.js';
import { kernelUnmounter } from '../kernel-unmount.js';
import { kernelDevice, serveLayerConnection, type KernelMount, type MountLayerKernelOptions } from '../mount-kernel.js';
import { maxPagesLimit } from '../max-pages.js';
import { notifyResend } from '../wire/notify.js';


export async function resumeLayerKernel(fd: number, mountpoint: string, layer: LayerReader, digest: string, o: MountLayerKernelOptions): Promise<KernelMount> {
  const device = kernelDevice(o.device);
  const maxPages = await maxPagesLimit();
  const { session, counters, passthrough, passthroughState } = serveLayerConnection(fd, layer, digest, { ...o, device, maxPages });
  const resend = device.writev(fd, notifyResend());
  if (resend < 0) warnNoResend(o.log, mountpoint, -resend);
  else o.log.info({ mountpoint }, 'took the layer connection over; the kernel resends what the previous process had not answered');
  const unmount = kernelUnmounter(device, mountpoint, digest, o);
  return { mountpoint, unmount, counters, session, fd, passthrough, passthroughState };
}

function warnNoResend(log: Logger, mountpoint: string, errno: number): void {
  log.warn({ mountpoint, errno }, 'the kernel refused FUSE_NOTIFY_RESEND (Linux < 6.9?): requests the previous process had read stay unanswered; new ones are served');
}
