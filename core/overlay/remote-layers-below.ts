/**
 * Which committed snapshots are remote layers (committed by the remote-snapshot protocol,
 * labelled `containerd.io/snapshot/remote`), read from the store inside one transaction: those
 * at or below one snapshot (what `mounts`, `view` and `prepare` check), or all of them (status).
 */
import { LABEL_REMOTE } from '../contract/labels.js';
import type { Info } from '../contract/snapshotter.js';
import type { MetaReader } from '../metastore/metastore.js';
import { REMOTE_SNAPSHOT_LABEL_VALUE, type RemoteLayerRef } from './layer-hook.js';
import type { OverlayLayout } from './overlay-mounts.js';

const isRemote = (info: Info): boolean => info.labels[LABEL_REMOTE] === REMOTE_SNAPSHOT_LABEL_VALUE;

const refOf = (layout: OverlayLayout, id: number, info: Info): RemoteLayerRef => ({
  name: info.name,
  id,
  mountpoint: layout.upperPath(id),
  labels: info.labels,
});

/**
 * The remote layers at or below snapshot `name`, nearest first ([] for `''`). A missing
 * snapshot (or ancestor) ends the walk: the store reports it to whoever asks for it.
 */
export function remoteLayersBelow(tx: MetaReader, name: string, layout: OverlayLayout): RemoteLayerRef[] {
  const out: RemoteLayerRef[] = [];
  try {
    for (let n = name; n !== ''; ) {
      const { id, info } = tx.getInfo(n);
      if (isRemote(info)) out.push(refOf(layout, id, info));
      n = info.parent;
    }
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== 'NOT_FOUND') throw err;
  }
  return out;
}

/** Every remote layer among `infos` (the store's list, read in `tx`). */
export function remoteLayersOf(tx: MetaReader, infos: readonly Info[], layout: OverlayLayout): RemoteLayerRef[] {
  return infos.filter(isRemote).map((info) => refOf(layout, tx.getInfo(info.name).id, info));
}
