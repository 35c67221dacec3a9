/**
 * `status()` of the stargz-lazy backend, from what the FUSE-serving process reports (its mount
 * list with per-layer progress, the availability check, its counters): one `LayerStatus` per
 * remote snapshot, and the backend's metric series. Builds values only; no I/O here.
 */
import type { BackendMetric, LayerStatus } from '../../../core/sdk.js';
import type { FusedLayerCheck, FusedMetrics, FusedMountInfo } from '../fused-client/fused-link.js';
import { layerFormatSchema } from '../protocol/control-protocol.js';
import { percent } from '../protocol/percent.js';

/** A remote snapshot as the store records it. */
export interface RemoteSnapshot {
  name: string;
  id: number;
  /** Its layer's mountpoint (`snapshots/<id>/fs`). */
  mountpoint: string;
  /** From its labels (the FUSE process's answer is preferred). */
  digest?: string | undefined;
  reference?: string | undefined;
}

/**
 * One status per remote snapshot. `checks` and `mounts` come from the process (undefined when
 * it is not running: every layer is then unavailable); `why` says why they are missing.
 */
export function layerStatuses(
  remote: readonly RemoteSnapshot[],
  mounts: readonly FusedMountInfo[] | undefined,
  checks: readonly FusedLayerCheck[] | undefined,
  why: string,
): LayerStatus[] {
  const byMountpoint = new Map((mounts ?? []).map((m) => [m.mountpoint, m]));
  return remote.map((r, i) => {
    const m = byMountpoint.get(r.mountpoint);
    const c = checks?.[i];
    const out: LayerStatus = {
      snapshot: r.name,
      digest: c?.digest ?? m?.digest ?? r.digest ?? '',
      state: c?.available === true ? 'available' : 'unavailable',
      fetchedBytes: c?.fetchedBytes ?? m?.fetchedBytes ?? 0,
      totalBytes: c?.totalBytes ?? m?.totalBytes ?? 0,
    };
    const reference = c?.reference ?? m?.reference ?? r.reference;
    if (reference !== undefined) out.reference = reference;
    if (m?.format !== undefined) out.format = m.format;
    if (out.state === 'unavailable') out.reason = c?.reason ?? why;
    if (m?.prefetch && m.prefetch.state !== 'none') out.prefetch = m.prefetch.state;
    if (m?.background) out.background = `${m.background.state} ${percent(m.background.fetchedBytes, m.background.totalBytes)}%`;
    return out;
  });
}

/** The backend's series: the process's counters (when it runs) and per-state layer gauges. */
export function backendMetrics(layers: readonly LayerStatus[], metrics: FusedMetrics | undefined): BackendMetric[] {
  const unavailable = layers.filter((l) => l.state === 'unavailable').length;
  const fetched = layers.reduce((n, l) => n + l.fetchedBytes, 0);
  const total = layers.reduce((n, l) => n + l.totalBytes, 0);
  const backgroundRunning = layers.filter((l) => l.background?.startsWith('running') === true).length;
  const backgroundComplete = layers.filter((l) => l.background?.startsWith('complete') === true).length;
  const prefetchRunning = layers.filter((l) => l.prefetch === 'running').length;
  const out: BackendMetric[] = [
    { name: 'lazy_layers', help: 'Remote (lazily fetched) layers', type: 'gauge', value: layers.length },
    { name: 'lazy_layers_unavailable', help: 'Remote layers that cannot be read in full now (not served, or registry unreachable and not fully cached)', type: 'gauge', value: unavailable },
    { name: 'lazy_layer_fetched_bytes', help: 'Bytes of remote layers held in the chunk cache (sum over layers)', type: 'gauge', value: fetched },
    { name: 'lazy_layer_total_bytes', help: 'Bytes of file contents of remote layers (sum over layers)', type: 'gauge', value: total },
    { name: 'background_fetch_running_layers', help: 'Layers being fetched whole in the background', type: 'gauge', value: backgroundRunning },
    { name: 'background_fetch_complete_layers', help: 'Layers the background fetch holds whole in the cache', type: 'gauge', value: backgroundComplete },
    { name: 'prefetch_running_layers', help: 'Layers whose prefetch is running', type: 'gauge', value: prefetchRunning },
  ];
  for (const format of layerFormatSchema.options) {
    const n = layers.filter((l) => l.format === format).length;
    out.push({ name: 'lazy_layers_by_format', help: 'Served remote layers by format', type: 'gauge', value: n, labels: { format } });
  }
  if (metrics === undefined) return out;
  out.push(
    { name: 'registry_fetched_bytes_total', help: 'Blob bytes received from registries', type: 'counter', value: metrics.registryBytes },
    { name: 'registry_foreground_reads_total', help: 'File reads that had to wait for a registry', type: 'counter', value: metrics.registryReads },
    { name: 'chunk_cache_hits_total', help: 'Chunk cache hits (memory and disk)', type: 'counter', value: metrics.cache.hits },
    { name: 'chunk_cache_misses_total', help: 'Chunk cache misses', type: 'counter', value: metrics.cache.misses },
    { name: 'chunk_cache_evictions_total', help: 'Chunk files removed by the disk cap', type: 'counter', value: metrics.cache.evictions },
    { name: 'chunk_cache_disk_bytes', help: 'Bytes of the on-disk chunk cache', type: 'gauge', value: metrics.cache.diskBytes },
    { name: 'chunk_cache_disk_limit_bytes', help: 'Cap of the on-disk chunk cache (0: none)', type: 'gauge', value: metrics.cache.diskLimitBytes },
    { name: 'chunk_cache_memory_bytes', help: 'Bytes of the in-memory chunk cache', type: 'gauge', value: metrics.cache.memoryBytes },
    { name: 'availability_probes_total', help: 'Registry probes sent by availability checks', type: 'counter', value: metrics.probes },
    { name: 'vanished_mounts_total', help: 'Layer mounts the FUSE process found removed from outside (umount -l) and released', type: 'counter', value: metrics.vanishedMounts ?? 0 },
    {
      name: 'fuse_read_duration_seconds',
      help: 'FUSE read latency of remote layers',
      type: 'histogram',
      buckets: metrics.readLatency.buckets,
      sum: metrics.readLatency.sum,
      count: metrics.readLatency.count,
    },
  );
  return out;
}
