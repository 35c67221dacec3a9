/**
 * Reading the TOC: for eStargz, the gzip member from the TOC offset to the footer, holding a
 * tar archive whose entry `stargz.index.json` is the JSON TOC; for zstd:chunked, the JSON as
 * one zstd frame in a skippable frame (../zstdchunked/zstd-toc.ts). Same schema, same digest.
 *
 * The TOC digest (layer annotation `containerd.io/snapshot/stargz/toc.digest`) is the digest of
 * the JSON bytes exactly as stored in that tar entry. Every size is capped before it costs
 * memory: the compressed range before it is fetched (`tocRange`), the decompressed member
 * while it is inflated (and by its ratio to the compressed size), the entry count before the
 * schema runs.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { InvalidArgumentError } from '../../../core/sdk.js';
import { digestAlgorithm, digestOf } from './digest.js';
import { EstargzLimitError, MalformedEstargzError, VerificationError } from './errors.js';
import type { Footer, LayerFormat } from './footer.js';
import { resolveLimits, type EstargzLimits } from './limits.js';
import { extractTocJson } from './toc-tar.js';
import { checkToc, type Toc } from './toc-schema.js';
import { decompressZstdToc } from '../zstdchunked/zstd-toc.js';

const gunzipAsync = promisify(gunzip);
const TOC_INFLATE_CHUNK_BYTES = 1024 * 1024;

export interface TocRange {
  /** Offset of the TOC gzip member in the blob. */
  offset: number;
  /** Its compressed length: up to the footer. */
  length: number;
}

/** Where the TOC is, checked against the compressed-size cap before anything is fetched. */
export function tocRange(footer: Footer, blobSize: number, limits?: Partial<EstargzLimits>): TocRange {
  const { maxTocCompressedBytes } = resolveLimits(limits);
  if (footer.format === 'zstd:chunked') {
    // The footer gives the exact range; its skippable-frame header is fetched with it (checked).
    const length = footer.tocLength + footer.tocOffset - footer.dataEnd;
    if (footer.tocLength > maxTocCompressedBytes) {
      throw new EstargzLimitError('maxTocCompressedBytes', footer.tocLength, maxTocCompressedBytes, 'compressed TOC size');
    }
    return { offset: footer.dataEnd, length };
  }
  const length = blobSize - footer.size - footer.tocOffset;
  if (length <= 0) throw new MalformedEstargzError(`TOC offset ${footer.tocOffset} leaves no room for a TOC`);
  if (length > maxTocCompressedBytes) {
    throw new EstargzLimitError('maxTocCompressedBytes', length, maxTocCompressedBytes, 'compressed TOC size');
  }
  return { offset: footer.tocOffset, length };
}

export interface ParsedToc {
  toc: Toc;
  /** Digest of the TOC JSON (what the `toc.digest` annotation holds), sha256 unless the expected digest used another algorithm. */
  digest: string;
}

export interface ParseTocOptions {
  /** The `containerd.io/snapshot/stargz/toc.digest` annotation; checked before the JSON is parsed. */
  expectedDigest?: string;
  limits?: Partial<EstargzLimits>;
  /** How the TOC is stored (default eStargz's gzip + tar). */
  format?: LayerFormat | undefined;
  /** The TOC JSON's length as the footer declares it (zstd:chunked), checked before and after decompressing. */
  declaredTocBytes?: number | undefined;
}

/** Decompress, verify and validate the TOC from the bytes of `tocRange`. */
export async function parseToc(compressed: Uint8Array, options: ParseTocOptions = {}): Promise<ParsedToc> {
  const limits = resolveLimits(options.limits);
  const algorithm = options.expectedDigest === undefined ? 'sha256' : digestAlgorithm(options.expectedDigest);
  if (algorithm === undefined) {
    throw new InvalidArgumentError(`TOC digest ${JSON.stringify(options.expectedDigest)} is not a digest`);
  }
  if (compressed.length > limits.maxTocCompressedBytes) {
    throw new EstargzLimitError('maxTocCompressedBytes', compressed.length, limits.maxTocCompressedBytes, 'compressed TOC size');
  }
  const json =
    options.format === 'zstd:chunked'
      ? await decompressZstdToc(compressed, options.declaredTocBytes, limits)
      : extractTocJson(await inflateToc(compressed, limits));
  const digest = digestOf(json, algorithm);
  if (options.expectedDigest !== undefined && digest !== options.expectedDigest) {
    throw new VerificationError('TOC', options.expectedDigest, digest, `its digest is ${digest}, want ${options.expectedDigest}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (err) {
    throw new MalformedEstargzError(`TOC JSON: ${(err as Error).message}`);
  }
  const entries = (raw as { entries?: unknown } | null)?.entries;
  if (Array.isArray(entries) && entries.length > limits.maxEntries) {
    throw new EstargzLimitError('maxEntries', entries.length, limits.maxEntries, 'TOC entry count');
  }
  return { toc: checkToc(raw), digest };
}

async function inflateToc(compressed: Uint8Array, limits: EstargzLimits): Promise<Buffer> {
  const byRatio = compressed.length * limits.maxTocRatio;
  const max = Math.min(limits.maxTocBytes, byRatio);
  try {
    // One thread-pool round trip per output piece: the default 16 KiB pieces made a 1.7 MB TOC
    // take ~25 ms to inflate instead of ~5.
    return await gunzipAsync(compressed, { maxOutputLength: max, chunkSize: TOC_INFLATE_CHUNK_BYTES });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw byRatio < limits.maxTocBytes
        ? new EstargzLimitError('maxTocRatio', Math.ceil(max / compressed.length) + 1, limits.maxTocRatio, 'TOC decompression ratio')
        : new EstargzLimitError('maxTocBytes', max + 1, limits.maxTocBytes, 'decompressed TOC size (at least)');
    }
    throw new MalformedEstargzError(`TOC gzip member: ${(err as Error).message}`, { cause: err });
  }
}
