/** What `status()` reports per remote layer and as series, from the FUSE process's answers. */
import { describe, expect, it } from 'vitest';
import { backendMetrics, layerStatuses, type RemoteSnapshot } from '../../../../../backends/stargz-lazy/snapshotter/layer-status.js';
import { percent } from '../../../../../backends/stargz-lazy/protocol/percent.js';
import type { FusedLayerCheck, FusedMetrics, FusedMountInfo } from '../../../../../backends/stargz-lazy/fused-client/fused-link.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const remote: RemoteSnapshot[] = [
  { name: 'chain-1', id: 1, mountpoint: '/r/snapshots/1/fs', digest: D1, reference: 'reg:5000/app:v1' },
  { name: 'chain-2', id: 2, mountpoint: '/r/snapshots/2/fs', digest: D2 },
];
const mounts: FusedMountInfo[] = [
  {
    mountpoint: '/r/snapshots/1/fs',
    digest: D1,
    reference: 'reg:5000/app:v1',
    state: 'mounted',
    fetchedBytes: 100,
    totalBytes: 100,
    prefetch: { state: 'complete', files: 3, bytes: 50 },
    background: { state: 'complete', fetchedBytes: 100, totalBytes: 100 },
  },
  { mountpoint: '/r/snapshots/2/fs', digest: D2, reference: 'reg:5000/app:v1', state: 'mounted', fetchedBytes: 37, totalBytes: 100, prefetch: { state: 'none', files: 0, bytes: 0 } },
];
const checks: FusedLayerCheck[] = [
  { mountpoint: '/r/snapshots/1/fs', served: true, digest: D1, reference: 'reg:5000/app:v1', available: true, fetchedBytes: 100, totalBytes: 100 },
  {
    mountpoint: '/r/snapshots/2/fs',
    served: true,
    digest: D2,
    reference: 'reg:5000/app:v1',
    available: false,
    reason: 'registry reg:5000 unreachable: connect ECONNREFUSED; 37 percent of the layer is cached',
    fetchedBytes: 37,
    totalBytes: 100,
  },
];
const metrics: FusedMetrics = {
  registryBytes: 4096,
  registryReads: 3,
  cache: { hits: 10, misses: 4, memoryBytes: 1024, diskBytes: 2048, diskLimitBytes: 8192, evictions: 1 },
  readLatency: { buckets: [{ le: 0.01, count: 5 }, { le: 1, count: 7 }], sum: 0.9, count: 8 },
  probes: 2,
};

describe('layerStatuses', () => {
  it('one entry per remote snapshot: state and reason from the check, progress, prefetch and background', () => {
    expect(layerStatuses(remote, mounts, checks, 'unused')).toEqual([
      { snapshot: 'chain-1', digest: D1, reference: 'reg:5000/app:v1', state: 'available', fetchedBytes: 100, totalBytes: 100, prefetch: 'complete', background: 'complete 100%' },
      { snapshot: 'chain-2', digest: D2, reference: 'reg:5000/app:v1', state: 'unavailable', reason: checks[1]!.reason, fetchedBytes: 37, totalBytes: 100 },
    ]);
  });

  it('without the FUSE process: every layer unavailable with the reason given, digests from the labels', () => {
    expect(layerStatuses(remote, undefined, undefined, 'the FUSE-serving process is not running')).toEqual([
      { snapshot: 'chain-1', digest: D1, reference: 'reg:5000/app:v1', state: 'unavailable', reason: 'the FUSE-serving process is not running', fetchedBytes: 0, totalBytes: 0 },
      { snapshot: 'chain-2', digest: D2, state: 'unavailable', reason: 'the FUSE-serving process is not running', fetchedBytes: 0, totalBytes: 0 },
    ]);
  });
});

describe('layer formats', () => {
  it('status names each served layer\'s format; the metrics count layers per format, every format listed', () => {
    const withFormats: FusedMountInfo[] = [{ ...mounts[0]!, format: 'zstd:chunked' }, { ...mounts[1]!, format: 'estargz' }];
    const layers = layerStatuses(remote, withFormats, checks, 'unused');
    expect(layers.map((l) => l.format)).toEqual(['zstd:chunked', 'estargz']);
    const byFormat = backendMetrics(layers, undefined)
      .filter((s) => s.name === 'lazy_layers_by_format')
      .map((s) => [s.labels?.format, s.type === 'histogram' ? undefined : s.value]);
    expect(byFormat).toEqual([
      ['estargz', 1],
      ['legacy-stargz', 0],
      ['zstd:chunked', 1],
    ]);
    // An older FUSE process does not say: no format, nothing counted.
    expect(layerStatuses(remote, mounts, checks, 'unused').map((l) => l.format)).toEqual([undefined, undefined]);
  });
});

describe('backendMetrics', () => {
  it('layer gauges always; the process counters, cache gauges and the read latency histogram when it answered', () => {
    const layers = layerStatuses(remote, mounts, checks, 'unused');
    const series = backendMetrics(layers, metrics);
    const value = (name: string) => {
      const m = series.find((s) => s.name === name);
      return m && m.type !== 'histogram' ? m.value : undefined;
    };
    expect(value('lazy_layers')).toBe(2);
    expect(value('lazy_layers_unavailable')).toBe(1);
    expect(value('lazy_layer_fetched_bytes')).toBe(137);
    expect(value('lazy_layer_total_bytes')).toBe(200);
    expect(value('registry_fetched_bytes_total')).toBe(4096);
    expect(value('chunk_cache_hits_total')).toBe(10);
    expect(value('chunk_cache_misses_total')).toBe(4);
    expect(value('chunk_cache_disk_bytes')).toBe(2048);
    expect(value('chunk_cache_disk_limit_bytes')).toBe(8192);
    expect(series.find((s) => s.name === 'fuse_read_duration_seconds')).toEqual({
      name: 'fuse_read_duration_seconds',
      help: 'FUSE read latency of remote layers',
      type: 'histogram',
      buckets: metrics.readLatency.buckets,
      sum: 0.9,
      count: 8,
    });
    for (const s of series) expect(s.name).toMatch(/^[a-z_][a-z0-9_]*$/);
    expect(backendMetrics(layers, undefined).map((s) => s.name)).toEqual([
      'lazy_layers',
      'lazy_layers_unavailable',
      'lazy_layer_fetched_bytes',
      'lazy_layer_total_bytes',
      'background_fetch_running_layers',
      'background_fetch_complete_layers',
      'prefetch_running_layers',
      'lazy_layers_by_format',
      'lazy_layers_by_format',
      'lazy_layers_by_format',
    ]);
    expect(value('background_fetch_complete_layers')).toBe(1);
  });

  it('percent never says 100 before everything is there', () => {
    expect(percent(999, 1000)).toBe(99);
    expect(percent(1000, 1000)).toBe(100);
    expect(percent(0, 0)).toBe(100);
  });
});
