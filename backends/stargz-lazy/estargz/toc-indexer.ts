/**
 * The CPU-heavy step of opening a layer: the compressed TOC member -> verified TOC digest and
 * the layer's index (inflate, tar, digest, JSON, checks, tree). `inThreadIndexer` runs it where
 * it is called; the FUSE-serving process hands it to a worker thread instead
 * (toc-index-worker-pool.ts), so the FUSE operations of mounted layers never wait behind a large
 * TOC being indexed.
 */
import { LayerIndex } from './layer-index.js';
import type { LayerFormat } from './footer.js';
import type { EstargzLimits } from './limits.js';
import { parseToc } from './toc.js';

export interface TocIndexRequest {
  /** The TOC member's bytes (`tocRange`). */
  compressed: Uint8Array;
  /** The `containerd.io/snapshot/stargz/toc.digest` annotation, when known. */
  expectedDigest?: string | undefined;
  /** Where the file data ends (`Footer.dataEnd`): no chunk reaches past it. */
  tocOffset: number;
  /** The layer's format (how the TOC is stored); default eStargz. */
  format?: LayerFormat | undefined;
  /** The TOC JSON's length as a zstd:chunked footer declares it. */
  declaredTocBytes?: number | undefined;
  limits?: Partial<EstargzLimits> | undefined;
  /**
   * Gives the job up: it rejects with the signal's reason (a job in a worker thread is
   * stopped; one in the calling thread is checked before it starts, as it cannot be stopped).
   */
  signal?: AbortSignal | undefined;
}

export interface IndexedToc {
  /** Digest of the TOC JSON. */
  digest: string;
  index: LayerIndex;
}

export interface TocIndexer {
  /** Rejects as `parseToc` and `LayerIndex.build` do (same error classes), or with `signal`'s reason. */
  index(r: TocIndexRequest): Promise<IndexedToc>;
}

export const inThreadIndexer: TocIndexer = {
  async index(r) {
    r.signal?.throwIfAborted();
    const { toc, digest } = await parseToc(r.compressed, { expectedDigest: r.expectedDigest, limits: r.limits, format: r.format, declaredTocBytes: r.declaredTocBytes });
    return { digest, index: LayerIndex.build(toc, { tocOffset: r.tocOffset, limits: r.limits }) };
  },
};
