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
import { inflateRange } from './gzip-stream.js';
import { resolveLimits, type EstargzLimits } from './limits.js';
import type { ChunkRef } from './layer-node.js';

export interface ReadChunkOptions {
  limits?: Partial<EstargzLimits>;
  /** Names the file in error messages. */
  path?: string;
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
  const first = chunks[0];
  if (!first) return [];
  let start = Infinity;
  let end = 0;
  for (const c of chunks) {
    if (c.offset !== first.offset) {
      throw new InvalidArgumentError(`readChunks: chunks of members at ${first.offset} and ${c.offset} mixed`);
    }
    start = Math.min(start, c.innerOffset);
    end = Math.max(end, c.innerOffset + c.chunkSize);
  }
  if (end > limits.maxChunkBytes) {
    throw new EstargzLimitError('maxChunkBytes', end, limits.maxChunkBytes, 'bytes to inflate for one chunk');
  }
  if (compressed.length > limits.maxChunkCompressedBytes) {
    throw new EstargzLimitError('maxChunkCompressedBytes', compressed.length, limits.maxChunkCompressedBytes, 'compressed chunk size');
  }
  let window: Buffer;
  try {
    window = await inflateRange(compressed, start, end);
  } catch (err) {
    const subject = describeChunk(first, options.path);
    throw new VerificationError(subject, first.chunkDigest, undefined, `cannot inflate its gzip member: ${(err as Error).message}`, { cause: err });
  }
  return chunks.map((c) => {
    const data = window.subarray(c.innerOffset - start, c.innerOffset - start + c.chunkSize);
    verifyChunk(data, c, options.path);
    // A copy when the window holds more, so one chunk does not pin the whole window.
    return data.length === window.length ? data : Buffer.from(data);
  });
}

/** Check bytes (freshly inflated, or read back from a cache) against the chunk's digest. */
export function verifyChunk(data: Uint8Array, chunk: ChunkRef, path?: string): void {
  const subject = describeChunk(chunk, path);
  if (data.length !== chunk.chunkSize) {
    throw new VerificationError(subject, chunk.chunkDigest, undefined, `has ${data.length} bytes, want ${chunk.chunkSize}`);
  }
  const algorithm = digestAlgorithm(chunk.chunkDigest);
  if (algorithm === undefined) throw new InvalidArgumentError(`${subject}: ${chunk.chunkDigest} is not a digest`);
  const actual = digestOf(data, algorithm);
  if (actual !== chunk.chunkDigest) {
    throw new VerificationError(subject, chunk.chunkDigest, actual, `digest is ${actual}, want ${chunk.chunkDigest}`);
  }
}

function describeChunk(chunk: ChunkRef, path: string | undefined): string {
  return `chunk ${path ?? '?'}@${chunk.chunkOffset}+${chunk.chunkSize} (blob offset ${chunk.offset})`;
}
