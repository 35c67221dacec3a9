/** Counters and gauges of the FUSE-serving process (`GET /v1/metrics`). */
import type { ChunkCache } from '../cache/chunk-cache.js';
import type { Metrics } from '../protocol/control-protocol.js';
import type { LatencyHistogram } from './latency-histogram.js';

/** Counters the layer opener feeds (remote-opener.ts), reported by `metrics()`. */
export interface ServedCounters {
  /** Blob bytes received from registries. */
  registryBytes: number;
  /** File reads that had to wait for the registry. */
  registryReads: number;
}

export interface MetricsSources {
  cache: Pick<ChunkCache, 'stats'> | undefined;
  counters: ServedCounters;
  readLatency: LatencyHistogram;
  /** Registry probes sent. */
  probes: number;
  /** Layer mounts found removed from outside and released. */
  vanishedMounts: number;
}

/** Cheap: no registry traffic, no walk of the cache. */
export function metricsOf(o: MetricsSources): Metrics {
  const stats = o.cache?.stats();
  return {
    registryBytes: o.counters.registryBytes,
    registryReads: o.counters.registryReads,
    cache: {
      hits: (stats?.memoryHits ?? 0) + (stats?.diskHits ?? 0),
      misses: stats?.misses ?? 0,
      memoryBytes: stats?.memoryBytes ?? 0,
      diskBytes: stats?.diskBytes ?? 0,
      diskLimitBytes: stats?.diskLimitBytes ?? 0,
      evictions: stats?.evictions ?? 0,
    },
    readLatency: o.readLatency.snapshot(),
    probes: o.probes,
    vanishedMounts: o.vanishedMounts,
  };
}
