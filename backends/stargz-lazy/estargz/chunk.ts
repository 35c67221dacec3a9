/**
 * Turning fetched compressed bytes into verified chunk bytes. The input is the blob from a
 * chunk's `offset` (the whole `compressedSize`, or any prefix long enough to inflate the
 * chunk); only `innerOffset + chunkSize` bytes are inflated, then the chunk is checked
 * against its `chunkDigest`. Bytes that do not verify are never returned: the caller gets a
 * VerificationError and must not cache anything.
 */
import { InvalidArgumentError } from '../../../core/sdk.js';
import { digestAlgorithm, digestOf } from './digest.js';
import { EstargzLimitError, VerificationError } from './errors.js';
import { codecOf } from './chunk-codec.js';
import type { LayerFormat } from './footer.js';
import type { InflateStats } from './gzip-stream.js';
import { resolveLimits, type EstargzLimits } from './limits.js';
import type { ChunkRef } from './layer-node.js';

export interface ReadChunkOptions {
  limits?: Partial<EstargzLimits>;
  /** Names the file in error messages. */
  path?: string;
  /** Names the layer (its digest) in error messages. */
  layer?: string;
  /** Added to by the inflation (tests, measurements). */
  stats?: InflateStats;
  /** The layer's format: how its members are compressed (default eStargz's gzip). */
  format?: LayerFormat | undefined;
}

/** The window of a member's decompressed stream that `chunks` (of that one member) need. */
function windowOf(chunks: readonly ChunkRef[]): { start: number; end: number } {
  let start = Infinity;
  let end = 0;
  for (const c of chunks) {
    start = Math.min(start, c.innerOffset);
    end = Math.max(end, c.innerOffset + c.chunkSize);
  }
  return { start: chunks.length === 0 ? 0 : start, end };
}

/**
 * Upper bound of the bytes `readChunks(…, chunks)` holds at once: each chunk's own buffer (the
 * decompressor fills them directly, range-window.ts) plus the decompressor's scratch while it
 * runs. What an inflation budget must be charged before the call.
 */
export function inflationBytes(chunks: readonly ChunkRef[], format?: LayerFormat, limits?: Partial<EstargzLimits>): number {
  if (chunks.length === 0) return 0;
  let results = 0;
  for (const c of chunks) results += c.chunkSize;
  return results + codecOf(format).scratchBytes(windowOf(chunks).end, resolveLimits(limits));
}

/** The verified bytes of `chunk` from the compressed bytes starting at `chunk.offset`. */
export async function readChunk(compressed: Uint8Array, chunk: ChunkRef, options: ReadChunkOptions = {}): Promise<Buffer> {
  const [data] = await readChunks(compressed, [chunk], options);
  return data!;
}

/**
 * Several chunks of one gzip member (all with the same `offset`, as a writer that packs
 * small files together produces), inflated once. Verified bytes in the order given.
 */
export async function readChunks(
  compressed: Uint8Array,
  chunks: readonly ChunkRef[],
  options: ReadChunkOptions = {},
): Promise<Buffer[]> {
  const limits = resolveLimits(options.limits);
  const codec = codecOf(options.format);
  const first = chunks[0];
  if (!first) return [];
  for (const c of chunks) {
    if (c.offset !== first.offset) {
      throw new InvalidArgumentError(`readChunks: chunks of members at ${first.offset} and ${c.offset} mixed`);
    }
  }
  const { end } = windowOf(chunks);
  const subject = () => describeChunk(first, options.path, options.layer);
  if (end > limits.maxChunkBytes) {
    throw new EstargzLimitError('maxChunkBytes', end, limits.maxChunkBytes, `${subject()}: bytes to inflate for one chunk`);
  }
  if (compressed.length > limits.maxChunkCompressedBytes) {
    throw new EstargzLimitError('maxChunkCompressedBytes', compressed.length, limits.maxChunkCompressedBytes, `${subject()}: compressed chunk size`);
  }
  // Before anything is inflated or allocated: the member (its extent in the TOC's layout, or
  // the bytes at hand when more) cannot inflate to more than its format's ratio allows (then
  // the declared sizes lie), nor to more than the operator accepts. Bytes at hand that are too
  // few for their extent are bad data served, a VerificationError below.
  const input = Math.max(1, first.compressedSize, compressed.length);
  const ratio = codec.ratio(limits);
  if (end > ratio.max * input) {
    throw new EstargzLimitError(
      ratio.limit,
      Math.round((end / input) * 10) / 10,
      ratio.max,
      `${subject()}: ${end} decompressed bytes declared from a ${input}-byte ${codec.member}: the ratio`,
    );
  }
  let data: Buffer[];
  try {
    data = await codec.ranges(compressed, chunks.map((c) => ({ start: c.innerOffset, end: c.innerOffset + c.chunkSize })), limits, options.stats);
  } catch (err) {
    throw new VerificationError(subject(), first.chunkDigest, undefined, `cannot decompress its ${codec.member}: ${(err as Error).message}`, { cause: err });
  }
  // Each chunk's own buffer (not a view into a window shared with the others): verified as is.
  chunks.forEach((c, i) => verifyChunk(data[i]!, c, options.path, options.layer));
  return data;
}

/** Check bytes (freshly inflated, or read back from a cache) against the chunk's digest. */
export function verifyChunk(data: Uint8Array, chunk: ChunkRef, path?: string, layer?: string): void {
  // The chunk's description is only made for an error (it is most of the cost of a small chunk's check).
  const subject = () => describeChunk(chunk, path, layer);
  if (data.length !== chunk.chunkSize) {
    throw new VerificationError(subject(), chunk.chunkDigest, undefined, `has ${data.length} bytes, want ${chunk.chunkSize}`);
  }
  const algorithm = digestAlgorithm(chunk.chunkDigest);
  if (algorithm === undefined) throw new InvalidArgumentError(`${subject()}: ${chunk.chunkDigest} is not a digest`);
  const actual = digestOf(data, algorithm);
  if (actual !== chunk.chunkDigest) {
    throw new VerificationError(subject(), chunk.chunkDigest, actual, `digest is ${actual}, want ${chunk.chunkDigest}`);
  }
}

/** Longest file name or layer digest quoted in a message (a TOC's names are the image author's). */
const MAX_QUOTED = 200;

function describeChunk(chunk: ChunkRef, path: string | undefined, layer: string | undefined): string {
  const of = layer === undefined ? '' : ` of layer ${quoted(layer)}`;
  return `chunk ${path === undefined ? '?' : quoted(path)}@${chunk.chunkOffset}+${chunk.chunkSize} (blob offset ${chunk.offset})${of}`;
}

/** `s` cut to MAX_QUOTED characters (marked), as one JSON string when it needs quoting. */
function quoted(s: string): string {
  const cut = s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…(${s.length} chars)` : s;
  return /^[\x21-\x7e]*$/.test(cut) ? cut : JSON.stringify(cut);
}
