/**
 * Opening a layer blob (eStargz, legacy stargz or zstd:chunked): footer (one Range request for
 * the last bytes), TOC (one Range request for the TOC), then the index. The blob is read
 * through `BlobReader`, so the same code serves a registry, a local file or a test buffer.
 */
import { InvalidArgumentError } from '../../../core/sdk.js';
import { footerFetchSize, parseFooter, type Footer } from './footer.js';
import type { LayerIndex } from './layer-index.js';
import type { EstargzLimits } from './limits.js';
import { tocRange } from './toc.js';
import { inThreadIndexer, type TocIndexer } from './toc-indexer.js';

export interface BlobReader {
  /** Total size of the blob in bytes (from the descriptor or a HEAD request). */
  readonly size: number;
  /** Exactly `length` bytes at `offset` (fewer is an error). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface OpenLayerOptions {
  /** The layer's `containerd.io/snapshot/stargz/toc.digest` annotation; the TOC must match it. */
  expectedTocDigest?: string;
  limits?: Partial<EstargzLimits>;
  /** Where the TOC is inflated, checked and indexed (default: in this thread). */
  indexer?: TocIndexer | undefined;
  /** Gives the indexing up (see `TocIndexRequest.signal`); the reads are the reader's to bound. */
  signal?: AbortSignal | undefined;
}

export interface OpenedLayer {
  footer: Footer;
  /** Digest of the TOC JSON (equal to `expectedTocDigest` when given). */
  tocDigest: string;
  index: LayerIndex;
}

/**
 * NotEstargzError when the blob is none of the formats (fall back to a full pull), MalformedEstargzError
 * or EstargzLimitError when it is broken or too big, VerificationError when the TOC does not
 * match `expectedTocDigest`.
 */
export async function openLayer(blob: BlobReader, options: OpenLayerOptions = {}): Promise<OpenedLayer> {
  const tailLength = footerFetchSize(blob.size);
  const tail = await readExactly(blob, blob.size - tailLength, tailLength);
  const footer = parseFooter(tail, blob.size);
  const range = tocRange(footer, blob.size, options.limits);
  const compressed = await readExactly(blob, range.offset, range.length);
  const indexer = options.indexer ?? inThreadIndexer;
  const { digest, index } = await indexer.index({
    compressed,
    expectedDigest: options.expectedTocDigest,
    tocOffset: footer.dataEnd,
    format: footer.format,
    declaredTocBytes: footer.format === 'zstd:chunked' ? footer.tocUncompressedLength : undefined,
    limits: options.limits,
    signal: options.signal,
  });
  return { footer, tocDigest: digest, index };
}

async function readExactly(blob: BlobReader, offset: number, length: number): Promise<Uint8Array> {
  const bytes = await blob.read(offset, length);
  if (bytes.length !== length) {
    throw new InvalidArgumentError(`blob read at ${offset}: got ${bytes.length} bytes, want ${length}`);
  }
  return bytes;
}
