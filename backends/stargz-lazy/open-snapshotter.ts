/**
 * Open a `stargz-lazy` instance on its root:
 * - `<root>/metadata/`: the LMDB metadata store;
 * - `<root>/snapshots/<id>/{fs,work}`: layers; a remote layer is a FUSE mount on `fs`;
 * - `<root>/fused.json`, `fused.sock`, `fused.log`, the chunk cache: the FUSE-serving
 *   process's, started at the first remote prepare (local-only use never starts it).
 *
 * The FUSE process is not stopped by `close()` and survives snaphost: running containers keep
 * reading. Here, at start, mounts it serves that no snapshot owns are reported (and released
 * by the cleanup), and remote snapshots whose mount is gone are named.
 */
import path from 'node:path';
import type { BackendContext, Call, Logger } from '../../core/sdk.js';
import { LABEL_REMOTE, openOverlayRoot, type LmdbMetaStore } from '../../core/sdk.js';
import type { FusedLink } from './fused-link.js';
import { mountsUnder } from './mount-table.js';
import type { StargzLazyOptions } from './options.js';
import { REMOTE_LABEL_VALUE } from './remote-request.js';
import { StargzSnapshotter } from './stargz-snapshotter.js';

/** Builds the link to the FUSE process of `root` (the real one, or a test's). */
export type FusedLinkFactory = (root: string, options: StargzLazyOptions, log: Logger) => FusedLink;

export async function openSnapshotter(options: StargzLazyOptions, ctx: BackendContext, makeLink: FusedLinkFactory): Promise<StargzSnapshotter> {
  const { root, store } = await openOverlayRoot(ctx);
  let sn: StargzSnapshotter;
  try {
    sn = new StargzSnapshotter({
      store,
      dir: root,
      log: ctx.log,
      asyncRemove: options.asyncRemove,
      fused: makeLink(root, options, ctx.log),
      prefetchBytes: options.prefetch.enabled ? options.prefetch.maxBytes : 0,
      mountTimeoutMs: options.mountTimeoutMs,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    const call: Call = { signal: ctx.signal, log: ctx.log };
    await reportMounts(sn, store, root, ctx.log);
    ctx.signal.throwIfAborted();
    // A crash may have left temp dirs, directories (and FUSE mounts) of removed snapshots.
    await sn.cleanup(call);
    for (const m of await sn.findMissingDirs()) {
      ctx.log.error({ key: m.key, dir: m.dir }, 'snapshot directory is missing (removed outside snaphost?); remove this snapshot');
    }
    const count = await store.read((tx) => tx.ids().length);
    ctx.log.info({ root, snapshots: count, asyncRemove: options.asyncRemove }, 'opened stargz-lazy store');
  } catch (err) {
    await sn.close();
    throw err;
  }
  return sn;
}

/**
 * Say what the FUSE process serves that the store does not know (those are released by the
 * cleanup that follows), and which remote snapshots have no mount (their FUSE process died;
 * containers on them cannot read until the snapshot is pulled again).
 */
async function reportMounts(sn: StargzSnapshotter, store: LmdbMetaStore, root: string, log: Logger): Promise<void> {
  const snapshots = path.join(root, 'snapshots');
  const recorded = await store.read((tx) =>
    tx.list().map((info) => ({ info, fs: path.join(snapshots, String(tx.getInfo(info.name).id), 'fs') })),
  );
  const owned = new Set(recorded.map((r) => r.fs));
  const fused = await sn.fusedRunning();
  if (fused !== undefined) {
    const served = await fused.list().catch((err: unknown) => {
      log.warn({ err }, 'the FUSE process is running but did not list its mounts');
      return [];
    });
    const unknown = served.filter((m) => !owned.has(m.mountpoint));
    for (const m of unknown) log.warn({ mountpoint: m.mountpoint, digest: m.digest, reference: m.reference, state: m.state }, 'the FUSE process serves a layer no snapshot owns; releasing it');
    log.info({ mounts: served.length, unknown: unknown.length }, 'attached to the running FUSE process');
  }
  const mounted = new Set((await mountsUnder(snapshots)).map((m) => m.mountpoint));
  for (const r of recorded) {
    if (r.info.labels[LABEL_REMOTE] !== REMOTE_LABEL_VALUE || r.info.kind !== 'committed' || mounted.has(r.fs)) continue;
    log.error({ name: r.info.name, mountpoint: r.fs }, 'remote snapshot is not mounted (its FUSE process is gone); remove it and pull the image again');
  }
}
