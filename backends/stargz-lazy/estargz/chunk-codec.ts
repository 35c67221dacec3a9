/**
 * How a layer's members are compressed, as chunk reads need it: gzip members (eStargz, legacy
 * stargz) or zstd frames (zstd:chunked). `chunk.ts` has one read path and asks the codec of
 * the layer's format for the three things that differ: decompressing a member's chunks, the scratch
 * memory that costs, and the largest honest ratio of decompressed to compressed bytes.
 */
import { zstdRanges, zstdScratchBytes } from '../zstdchunked/zstd-stream.js';
import type { LayerFormat } from './footer.js';
import { inflateRanges, inflateScratchBytes, type InflateStats } from './gzip-stream.js';
import type { Slice } from './range-window.js';
import type { EstargzLimits } from './limits.js';

export interface ChunkCodec {
  /** Names the compression in messages (`gzip member`, `zstd frame`). */
  readonly member: string;
  /**
   * Each slice of the decompressed member(s) in `compressed`, decompressed once, each in its own
   * buffer of exactly its size; throws when corrupt or short.
   */
  ranges(compressed: Uint8Array, slices: readonly Slice[], limits: EstargzLimits, stats?: InflateStats): Promise<Buffer[]>;
  /** Memory a `ranges` call whose last slice ends at `end` uses besides its results. */
  scratchBytes(end: number, limits: EstargzLimits): number;
  /** The ratio cap (`limits` field and value) a member's declared sizes are checked against. */
  ratio(limits: EstargzLimits): { limit: 'maxInflateRatio' | 'maxZstdInflateRatio'; max: number };
}

export const gzipCodec: ChunkCodec = {
  member: 'gzip member',
  ranges: (compressed, slices, _limits, stats) => inflateRanges(compressed, slices, stats),
  scratchBytes: (end) => inflateScratchBytes(end),
  ratio: (limits) => ({ limit: 'maxInflateRatio', max: limits.maxInflateRatio }),
};

export const zstdCodec: ChunkCodec = {
  member: 'zstd frame',
  ranges: (compressed, slices, limits, stats) => zstdRanges(compressed, slices, limits.maxZstdWindowLog, stats),
  scratchBytes: (end, limits) => Math.min(zstdScratchBytes(end), zstdScratchBytes(0) + 2 ** limits.maxZstdWindowLog),
  ratio: (limits) => ({ limit: 'maxZstdInflateRatio', max: limits.maxZstdInflateRatio }),
};

/** The codec of a layer of `format` (eStargz's gzip when not given). */
export function codecOf(format: LayerFormat | undefined): ChunkCodec {
  return format === 'zstd:chunked' ? zstdCodec : gzipCodec;
}
