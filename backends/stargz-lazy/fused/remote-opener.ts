/**
 * How the FUSE-serving process opens a layer and probes its blob: from the registry (through
 * the shared client: auth, mirrors, retries) and the shared chunk cache. Bytes received from
 * registries and foreground reads that went to one are counted for `GET /v1/metrics`; a
 * foreground read that needs the registry also tells the background fetch to keep quiet.
 */
import type { ChunkCache } from '../cache/chunk-cache.js';
import { inThreadIndexer, type TocIndexer } from '../estargz/toc-indexer.js';
import type { Logger } from '../../../core/sdk.js';
import { RemoteLayer } from '../layer/remote-layer.js';
import { probeBlob, type ProbeResult } from '../registry/probe-blob.js';
import { parseReference } from '../registry/reference.js';
import type { RegistryClient } from '../registry/registry-client.js';
import type { MountRequest } from './control-protocol.js';
import { countingBlob } from './counting-blob.js';
import type { FusedConfig } from './fused-config.js';
import type { OpenLayer, ServedCounters } from './served-mounts.js';

/** A probe of a blob gives up after this long (every location included). */
export const PROBE_TIMEOUT_MS = 2_000;

export interface RemoteOpenerDeps {
  config: FusedConfig;
  log: Logger;
  registry: RegistryClient;
  cache: ChunkCache;
  counters: ServedCounters;
  /** A foreground read had to wait for the registry. */
  onForegroundFetch?: () => void;
  /** Where TOCs are indexed (a worker thread in the process). */
  indexer?: TocIndexer;
}

export function remoteOpener(deps: RemoteOpenerDeps): OpenLayer<RemoteLayer> {
  const { registry, cache, counters } = deps;
  const indexer = deps.indexer ?? inThreadIndexer;
  return (r, signal, beforeIndex) => {
    const reference = parseReference(r.reference, 'reference');
    const blob = countingBlob(registry.blob(reference, { digest: r.digest, urls: r.urls ?? [] }), counters);
    return RemoteLayer.open({
      blob,
      expectedTocDigest: r.tocDigest,
      cache,
      limits: deps.config.estargz,
      indexer: beforeIndex === undefined ? indexer : { index: (job) => beforeIndex().then(() => indexer.index(job)) },
      regionBytes: deps.config.fs.regionBytes,
      log: deps.log.child({ layer: r.digest }),
      signal,
      onRegistryFetch: () => {
        counters.registryReads++;
        deps.onForegroundFetch?.();
      },
    });
  };
}

export function registryProbe(registry: RegistryClient): (r: MountRequest) => Promise<ProbeResult> {
  return (r) => probeBlob(registry, parseReference(r.reference, 'reference'), { digest: r.digest, urls: r.urls ?? [] }, { timeoutMs: PROBE_TIMEOUT_MS });
}
