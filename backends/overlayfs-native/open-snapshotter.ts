/**
 * Open an `overlayfs-native` instance on its root: `<root>/metadata/` (the LMDB metadata
 * store) and `<root>/snapshots/<id>/{fs,work}`. Everything persists: after a restart (clean or
 * `kill -9`) every committed record is there with its directory, and running containers keep
 * their kernel overlay mounts, which never depended on this process.
 */
import type { BackendContext, Snapshotter } from '../../core/sdk.js';
import { createOverlaySnapshotter, openOverlayRoot } from '../../core/sdk-overlay.js';
import type { OverlayfsNativeOptions } from './options.js';

export async function openSnapshotter(options: OverlayfsNativeOptions, ctx: BackendContext): Promise<Snapshotter> {
  const { root, store } = await openOverlayRoot(ctx);
  let sn: ReturnType<typeof createOverlaySnapshotter>;
  try {
    sn = createOverlaySnapshotter({ store, dir: root, log: ctx.log, ...options });
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    ctx.signal.throwIfAborted();
    // A crash may have left temp dirs of interrupted creates and directories of removed
    // snapshots: remove them before serving, and say loudly if records lost their directories.
    await sn.cleanup({ signal: ctx.signal, log: ctx.log });
    const missing = await sn.findMissingDirs();
    for (const m of missing) ctx.log.error({ key: m.key, dir: m.dir }, 'snapshot directory is missing (removed outside snaphost?); remove this snapshot');
    const count = await store.read((tx) => tx.ids().length);
    ctx.log.info({ root, snapshots: count, asyncRemove: options.asyncRemove }, 'opened overlayfs-native store');
  } catch (err) {
    await sn.close();
    throw err;
  }
  return sn;
}
