/** The metrics of several FUSE-serving processes (generations) as one: counters and gauges add up. */
import type { FusedMetrics } from '../fused-client/fused-link.js';

export function mergeMetrics(all: readonly FusedMetrics[]): FusedMetrics {
  const [first, ...rest] = all;
  if (first === undefined) throw new Error('no metrics to merge');
  const out: FusedMetrics = structuredClone(first);
  for (const m of rest) {
    out.registryBytes += m.registryBytes;
    out.registryReads += m.registryReads;
    out.probes += m.probes;
    if (m.vanishedMounts !== undefined) out.vanishedMounts = (out.vanishedMounts ?? 0) + m.vanishedMounts;
    out.cache.hits += m.cache.hits;
    out.cache.misses += m.cache.misses;
    out.cache.memoryBytes += m.cache.memoryBytes;
    out.cache.diskBytes += m.cache.diskBytes;
    out.cache.evictions += m.cache.evictions;
    // Each generation has its own cache and cap (generation.ts): the caps add up; 0 (no cap) wins.
    out.cache.diskLimitBytes = out.cache.diskLimitBytes === 0 || m.cache.diskLimitBytes === 0 ? 0 : out.cache.diskLimitBytes + m.cache.diskLimitBytes;
    out.readLatency.sum += m.readLatency.sum;
    out.readLatency.count += m.readLatency.count;
    const sameBuckets = m.readLatency.buckets.length === out.readLatency.buckets.length && m.readLatency.buckets.every((b, i) => b.le === out.readLatency.buckets[i]!.le);
    if (sameBuckets) m.readLatency.buckets.forEach((b, i) => (out.readLatency.buckets[i]!.count += b.count));
  }
  return out;
}
