/**
 * Open a `stargz-lazy` instance on its root:
 * - `<root>/metadata/`: the LMDB metadata store;
 * - `<root>/snapshots/<id>/{fs,work}`: layers; a remote layer is a FUSE mount on `fs`;
 * - `<root>/fused.json`, `fused.sock`, `fused.log`, the chunk cache: the FUSE-serving
 *   process's, started here before the backend serves (`startFusedAtOpen`, the default), or
 *   else at the first remote prepare.
 *
 * The FUSE process is not stopped by `close()` and survives snaphost: running containers keep
 * reading, and a restarted snaphost attaches to it; one left serving no layer with no snaphost
 * attached exits after `fusedIdleExitMs`. Here, at start, mounts it serves that no
 * snapshot owns are reported (and released by the cleanup), and remote snapshots whose layer
 * is not served (the process died) are mounted again in the background
 * (restore-remote-snapshots.ts; calls on them wait for it, see restore-gate.ts).
 */
import path from 'node:path';
import type { BackendContext, Call, Logger } from '../../../core/sdk.js';
import { createOverlaySnapshotter, openOverlayRoot, OverlayLayout, type LmdbMetaStore, type OverlaySnapshotter } from '../../../core/sdk-overlay.js';
import type { FusedLink } from '../fused-client/fused-link.js';
import type { StargzLazyOptions } from '../options.js';
import { fusedLayers } from './fused-layers.js';
import { reportHostsDirProblems } from './hosts-dirs-report.js';
import { gateOnRestore, type RestoreGated } from './restore-gate.js';
import { restoreRemoteSnapshots } from './restore-remote-snapshots.js';

/** Builds the link to the FUSE process of `root` (the real one, or a test's). */
export type FusedLinkFactory = (root: string, options: StargzLazyOptions, log: Logger) => FusedLink;

/**
 * The overlay snapshotter on the root's LMDB store, given the FUSE-mounted layers
 * (`fused-layers.ts`), wrapped by the restore gate (`restore-gate.ts`).
 */
export async function openSnapshotter(options: StargzLazyOptions, ctx: BackendContext, makeLink: FusedLinkFactory): Promise<RestoreGated> {
  const { root, store } = await openOverlayRoot(ctx);
  reportHostsDirProblems(options.registry.hostsDirs, ctx.log);
  const layout = new OverlayLayout(root);
  const prefetchBytes = options.prefetch.enabled ? options.prefetch.maxBytes : 0;
  let sn: OverlaySnapshotter;
  let fused: FusedLink;
  try {
    fused = makeLink(root, options, ctx.log);
    const layers = fusedLayers({
      fused,
      snapshotsDir: layout.snapshotsDir,
      prefetchBytes,
      mountTimeoutMs: options.mountTimeoutMs,
      allowUnverifiedLayers: options.allowUnverifiedLayers,
    });
    sn = createOverlaySnapshotter({ store, dir: root, log: ctx.log, asyncRemove: options.asyncRemove, layers });
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    const call: Call = { signal: ctx.signal, log: ctx.log };
    await reportMounts(fused, store, root, ctx.log);
    ctx.signal.throwIfAborted();
    // A crash may have left temp dirs, directories (and FUSE mounts) of removed snapshots.
    await sn.cleanup(call);
    for (const m of await sn.findMissingDirs()) {
      ctx.log.error({ key: m.key, dir: m.dir }, 'snapshot directory is missing (removed outside snaphost?); remove this snapshot');
    }
    const count = await store.read((tx) => tx.ids().length);
    ctx.log.info({ root, snapshots: count, asyncRemove: options.asyncRemove }, 'opened stargz-lazy store');
    ctx.signal.throwIfAborted();
  } catch (err) {
    await sn.close();
    throw err;
  }
  const gated = gateOnRestore(sn, {
    store,
    waitMs: options.mountTimeoutMs,
    restore: (signal) =>
      restoreRemoteSnapshots({
        store,
        layout,
        fused,
        log: ctx.log,
        mountTimeoutMs: options.mountTimeoutMs,
        prefetchBytes,
        allowUnverifiedLayers: options.allowUnverifiedLayers,
        concurrency: options.restore.concurrency,
        signal,
      }),
  });
  if (options.startFusedAtOpen) await startFused(fused, ctx);
  // The first remote prepare after a reboot then need not wait for the process to start.
  else fused.warm?.();
  return gated;
}

/**
 * Start (or attach to) the FUSE-serving process before the backend serves, and let it warm up,
 * each bounded by `fusedStartTimeoutMs`. A process that will not start does not keep the
 * backend from serving: local snapshots work without it, and the first remote prepare tries
 * again.
 */
async function startFused(fused: FusedLink, ctx: BackendContext): Promise<void> {
  const started = Date.now();
  try {
    if (fused.start) await fused.start(ctx.signal);
    else await fused.get(ctx.signal);
    ctx.log.info({ ms: Date.now() - started }, 'FUSE-serving process up');
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    ctx.log.warn({ err }, 'could not start the FUSE-serving process at open; the first remote prepare tries again');
  }
}

/** Say what the FUSE process serves that the store does not know (those are released by the cleanup that follows). */
async function reportMounts(link: FusedLink, store: LmdbMetaStore, root: string, log: Logger): Promise<void> {
  const fused = await link.running();
  if (fused === undefined) return;
  const snapshots = path.join(root, 'snapshots');
  const owned = new Set(await store.read((tx) => tx.list().map((info) => path.join(snapshots, String(tx.getInfo(info.name).id), 'fs'))));
  const served = await fused.list().catch((err: unknown) => {
    log.warn({ err }, 'the FUSE process is running but did not list its mounts');
    return [];
  });
  const unknown = served.filter((m) => !owned.has(m.mountpoint));
  for (const m of unknown) log.warn({ mountpoint: m.mountpoint, digest: m.digest, reference: m.reference, state: m.state }, 'the FUSE process serves a layer no snapshot owns; releasing it');
  log.info({ mounts: served.length, unknown: unknown.length }, 'attached to the running FUSE process');
}
