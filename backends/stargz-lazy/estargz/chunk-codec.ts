/**
 * How a layer's members are compressed, as chunk reads need it: gzip members (eStargz, legacy
 * stargz) or zstd frames (zstd:chunked). `chunk.ts` has one read path and asks the codec of
 * the layer's format for the three things that differ: decompressing a range, the scratch
 * memory that costs, and the largest honest ratio of decompressed to compressed bytes.
 */
import { zstdRange, zstdScratchBytes } from '../zstdchunked/zstd-stream.js';
import type { LayerFormat } from './footer.js';
import { inflateRange, inflateScratchBytes, type InflateStats } from './gzip-stream.js';
import type { EstargzLimits } from './limits.js';

export interface ChunkCodec {
  /** Names the compression in messages (`gzip member`, `zstd frame`). */
  readonly member: string;
  /** Decompressed bytes [start, end) of the member(s) in `compressed`; throws when corrupt or short. */
  range(compressed: Uint8Array, start: number, end: number, limits: EstargzLimits, stats?: InflateStats): Promise<Buffer>;
  /** Memory a `range(…, end)` call uses besides its result. */
  scratchBytes(end: number, limits: EstargzLimits): number;
  /** The ratio cap (`limits` field and value) a member's declared sizes are checked against. */
  ratio(limits: EstargzLimits): { limit: 'maxInflateRatio' | 'maxZstdInflateRatio'; max: number };
}

export const gzipCodec: ChunkCodec = {
  member: 'gzip member',
  range: (compressed, start, end, _limits, stats) => inflateRange(compressed, start, end, stats),
  scratchBytes: (end) => inflateScratchBytes(end),
  ratio: (limits) => ({ limit: 'maxInflateRatio', max: limits.maxInflateRatio }),
};

export const zstdCodec: ChunkCodec = {
  member: 'zstd frame',
  range: (compressed, start, end, limits, stats) => zstdRange(compressed, start, end, limits.maxZstdWindowLog, stats),
  scratchBytes: (end, limits) => Math.min(zstdScratchBytes(end), zstdScratchBytes(0) + 2 ** limits.maxZstdWindowLog),
  ratio: (limits) => ({ limit: 'maxZstdInflateRatio', max: limits.maxZstdInflateRatio }),
};

/** The codec of a layer of `format` (eStargz's gzip when not given). */
export function codecOf(format: LayerFormat | undefined): ChunkCodec {
  return format === 'zstd:chunked' ? zstdCodec : gzipCodec;
}
