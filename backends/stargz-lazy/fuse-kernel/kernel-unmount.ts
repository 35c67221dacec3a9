/**
 * The unmount of a layer the kernel transport serves (mounted here or taken over from a previous
 * process): umount2(MNT_DETACH) through the addon — no fusermount, this process owns the
 * connection, and a lazy detach never waits for it to answer — bounded like every layer unmount
 * (fs/layer-unmount.ts). The session then ends on ENODEV.
 */
import { layerUnmounter, type LayerUnmountOptions } from '../fs/layer-unmount.js';
import { MNT_DETACH, type FuseDevice } from './fuse-device.js';

export function kernelUnmounter(device: FuseDevice, mountpoint: string, digest: string, o: LayerUnmountOptions): () => Promise<void> {
  const detach = async (): Promise<void> => {
    const started = performance.now();
    const r = device.umount(mountpoint, MNT_DETACH);
    o.log.debug({ mountpoint, umountSyscallMs: Math.round((performance.now() - started) * 10) / 10, errno: r < 0 ? -r : 0 }, 'umount2(MNT_DETACH) of the layer done');
    if (r < 0) throw Object.assign(new Error(`umount2(${mountpoint}, MNT_DETACH): errno ${-r}`), { errno: -r });
  };
  return layerUnmounter(mountpoint, digest, detach, o);
}
