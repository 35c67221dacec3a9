/**
 * `LayerHook.status` of stargz-lazy: disk use (snapshot directories, metadata and the chunk
 * cache), one entry per remote layer, and the backend's series (the overlay snapshotter adds
 * the snapshot count). Costs a few requests to the FUSE process and at most one memoized,
 * bounded registry probe per remote layer; never starts the process.
 */
import path from 'node:path';
import type { Call, SnapshotterStatus } from '../../../core/sdk.js';
import type { RemoteLayerRef } from '../../../core/sdk-overlay.js';
import type { FusedLayerCheck, FusedLink, FusedMetrics, FusedMountInfo } from '../fused-client/fused-link.js';
import { describeError, isFusedUnreachable } from './error-code.js';
import { backendMetrics, layerStatuses, type RemoteSnapshot } from './layer-status.js';
import type { PrepareFallbacks } from './prepare-fallbacks.js';
import { remoteLayerOfLabels } from './remote-request.js';
import { cacheDiskBytes, localDiskBytes } from './root-disk-usage.js';

export interface LayersStatusDeps {
  fused: FusedLink;
  fallbacks: PrepareFallbacks;
  /** `<root>/snapshots`. */
  snapshotsDir: string;
}

export async function layersStatus(d: LayersStatusDeps, refs: readonly RemoteLayerRef[], call: Call): Promise<SnapshotterStatus> {
  const remote: RemoteSnapshot[] = refs.map((r) => ({ name: r.name, id: r.id, mountpoint: r.mountpoint, ...remoteLayerOfLabels(r.labels) }));
  const fused = await d.fused.running().catch(() => undefined);
  let mounts: FusedMountInfo[] | undefined;
  let checks: FusedLayerCheck[] | undefined;
  let metrics: FusedMetrics | undefined;
  let why = 'the FUSE-serving process is not running';
  if (fused !== undefined) {
    try {
      [mounts, checks, metrics] = await Promise.all([
        fused.list(),
        remote.length > 0 ? fused.check(remote.map((r) => r.mountpoint), call.signal) : Promise.resolve([]),
        fused.metrics(),
      ]);
    } catch (err) {
      if (isFusedUnreachable(err)) d.fused.reset(fused);
      why = `the FUSE-serving process did not answer: ${describeError(err)}`;
      call.log.warn({ err }, 'status: the FUSE-serving process did not answer');
    }
  }
  const layers = layerStatuses(remote, mounts, checks, why);
  const root = path.dirname(d.snapshotsDir);
  const remoteIds = new Set(remote.map((r) => String(r.id)));
  const local = await localDiskBytes(root, d.snapshotsDir, remoteIds, call.signal);
  const diskBytes = local + (metrics?.cache.diskBytes ?? (await cacheDiskBytes(root, call.signal)));
  return { diskBytes, layers, metrics: [...backendMetrics(layers, metrics), ...d.fallbacks.metrics()] };
}
