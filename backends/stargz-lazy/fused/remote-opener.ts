/**
 * How the FUSE-serving process opens a layer and probes its blob: from the registry (through
 * the shared client: auth, mirrors, retries) and the shared chunk cache. Bytes received from
 * registries and foreground reads that went to one are counted for `GET /v1/metrics`; a
 * foreground read that needs the registry also tells the background fetch to keep quiet.
 * A blob found not to be eStargz is remembered (rejected-blobs.ts): opening it again answers
 * the same NotEstargzError with no request.
 */
import type { ChunkCache } from '../cache/chunk-cache.js';
import { inThreadIndexer, type TocIndexer } from '../estargz/toc-indexer.js';
import type { Logger } from '../../../core/sdk.js';
import { InflationBudget } from '../layer/inflation-budget.js';
import { RemoteLayer } from '../layer/remote-layer.js';
import { probeBlob, type ProbeResult } from '../registry/probe-blob.js';
import { parseReference } from '../registry/reference.js';
import type { LiveRegistry } from '../registry/live-registry.js';
import type { MountRequest } from '../protocol/control-protocol.js';
import { countingBlob } from './counting-blob.js';
import type { FusedConfig } from '../protocol/fused-config.js';
import { RejectedBlobs } from './rejected-blobs.js';
import type { OpenLayer } from './layer-supply.js';
import type { ServedCounters } from './process-metrics.js';

/** A probe of a blob gives up after this long (every location included). */
export const PROBE_TIMEOUT_MS = 2_000;

export interface RemoteOpenerDeps {
  config: FusedConfig;
  log: Logger;
  /** The current registry client: each read takes the one current then (live-registry.ts). */
  registry: Pick<LiveRegistry, 'blob'>;
  cache: ChunkCache;
  counters: ServedCounters;
  /** A foreground read had to wait for the registry. */
  onForegroundFetch?: () => void;
  /** Where TOCs are indexed (a worker thread in the process). */
  indexer?: TocIndexer;
  /** Blobs found not to be eStargz (default: a new memo of REJECTED_BLOBS_MAX digests). */
  rejected?: RejectedBlobs;
  /** The process's inflation budget, shared by every layer opened (default: a new one from `config.estargz`). */
  inflation?: InflationBudget;
}

export function remoteOpener(deps: RemoteOpenerDeps): OpenLayer<RemoteLayer> {
  const { registry, cache, counters } = deps;
  const indexer = deps.indexer ?? inThreadIndexer;
  const rejected = deps.rejected ?? new RejectedBlobs();
  // One per process (fused makes one opener): every layer's inflation counts against it.
  const inflation = deps.inflation ?? new InflationBudget(deps.config.estargz);
  return (r, signal, beforeIndex) => {
    const known = rejected.get(r.digest);
    if (known !== undefined) return Promise.reject(known);
    const reference = parseReference(r.reference, 'reference');
    const blob = countingBlob(registry.blob(reference, { digest: r.digest, urls: r.urls ?? [] }), counters);
    const opening = RemoteLayer.open({
      blob,
      expectedTocDigest: r.tocDigest,
      cache,
      limits: deps.config.estargz,
      indexer: beforeIndex === undefined ? indexer : { index: (job) => beforeIndex().then(() => indexer.index(job)) },
      regionBytes: deps.config.fs.regionBytes,
      inflation,
      log: deps.log.child({ layer: r.digest }),
      signal,
      onRegistryFetch: () => {
        counters.registryReads++;
        deps.onForegroundFetch?.();
      },
    });
    // Noted before the caller sees the rejection: a mount waiting on this open (opened ahead)
    // and then opening the layer itself finds it.
    return opening.catch((err: unknown) => {
      rejected.note(r.digest, err);
      throw err;
    });
  };
}

export function registryProbe(registry: Pick<LiveRegistry, 'current'>): (r: MountRequest) => Promise<ProbeResult> {
  return (r) => probeBlob(registry.current, parseReference(r.reference, 'reference'), { digest: r.digest, urls: r.urls ?? [] }, { timeoutMs: PROBE_TIMEOUT_MS });
}
