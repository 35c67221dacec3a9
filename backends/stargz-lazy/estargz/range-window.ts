/**
 * What the two member decompressors (gzip-stream.ts for eStargz, ../zstdchunked/zstd-stream.ts
 * for zstd:chunked) share: the window [start, end) of a decompressed stream that a chunk read
 * wants, filled from output pieces as they come, and the sizes that bound their memory.
 */
import type { InflateStats } from './gzip-stream.js';

/**
 * Output piece size of a streaming decompressor. zlib's default (16 KiB) costs one thread-pool
 * round trip per 16 KiB: a 4 MiB chunk took ~15 ms to inflate that way against ~1.3 ms with 256 KiB.
 */
export const PIECE_BYTES = 256 * 1024;
export const MIN_PIECE_BYTES = 1024;
/**
 * Compressed input this small is decompressed in one synchronous call (a few µs; a stream and its
 * thread-pool round trips cost far more for the small files of a layer), its output bounded.
 */
export const SYNC_MAX_INPUT = 64 * 1024;
export const SYNC_MAX_OUTPUT = 4 * 1024 * 1024;
/**
 * How much more than wanted the one-call path may decompress (the tar padding and headers that
 * follow a file in its member) before it gives up for the stream path.
 */
export const SLACK_BYTES = 256 * 1024;

/**
 * Upper bound of the output memory a decompression of a window ending at `end` uses besides its
 * result: the one-call path's output (at most `end + SLACK_BYTES`, never above SYNC_MAX_OUTPUT)
 * or the stream path's pieces (PIECE_BYTES each, a couple in flight).
 */
export function outputScratchBytes(end: number): number {
  return Math.max(0, Math.min(SYNC_MAX_OUTPUT, end + SLACK_BYTES), 2 * PIECE_BYTES);
}

/** The stream path's piece size for a window ending at `end`: as large as what is wanted, bounded. */
export function pieceBytesFor(wanted: number): number {
  return Math.min(PIECE_BYTES, Math.max(MIN_PIECE_BYTES, wanted));
}

/** Bytes [start, end) of a decompressed stream, copied out of its pieces in order. */
export class RangeWindow {
  readonly out: Buffer;
  /** Decompressed bytes seen so far, those before `start` included. */
  seen = 0;

  constructor(
    readonly start: number,
    readonly end: number,
    private readonly stats?: InflateStats,
  ) {
    this.out = Buffer.alloc(Math.max(0, end - start));
  }

  /** Takes the next piece of the stream; true once the window is full. */
  readonly take = (piece: Buffer): boolean => {
    const from = Math.max(this.start, this.seen);
    const to = Math.min(this.end, this.seen + piece.length);
    if (to > from) piece.copy(this.out, from - this.start, from - this.seen, to - this.seen);
    this.seen += piece.length;
    if (this.stats) this.stats.inflatedBytes += piece.length;
    return this.seen >= this.end;
  };
}
