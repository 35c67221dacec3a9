/**
 * What the two member decompressors (gzip-stream.ts for eStargz, ../zstdchunked/zstd-stream.ts
 * for zstd:chunked) share: the slices of a decompressed stream that a member's chunks are, each
 * filled from the decompressor's output pieces straight into that chunk's own buffer (no window
 * buffer in between, no second copy per chunk), and the sizes that bound their memory.
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
 * Output buffer of the one-call path beyond what is wanted: room for the tar padding and the next
 * entries' headers (up to 7), so that the output is one buffer (no concatenation of pieces) in the
 * usual case; small enough that the output of a chunk of 64 KiB or more becomes its buffer
 * (ADOPT_WASTE), and that of a small file (under 4 KiB with it) comes from Node's buffer pool.
 */
export const SYNC_TAIL_BYTES = 4 * 1024;
/**
 * A piece that holds exactly one whole chunk becomes that chunk's buffer (no copy) when the memory
 * behind it is at most the chunk plus 1/ADOPT_WASTE of it: a cached chunk never pins much more.
 */
export const ADOPT_WASTE = 16;

/**
 * Upper bound of the output memory a decompression of slices ending at `end` uses besides its
 * results: the one-call path's output (at most `end + SLACK_BYTES`, never above SYNC_MAX_OUTPUT)
 * or the stream path's pieces (PIECE_BYTES each, a couple in flight; or one piece of the last
 * chunk's size, at most SYNC_MAX_OUTPUT, see `RangeWindow.pieceBytes`).
 */
export function outputScratchBytes(end: number): number {
  return Math.max(0, Math.min(SYNC_MAX_OUTPUT, end + SLACK_BYTES), 2 * PIECE_BYTES);
}

/** The stream path's piece size for `wanted` bytes still to come: as large as what is wanted, bounded. */
export function pieceBytesFor(wanted: number): number {
  return Math.min(PIECE_BYTES, Math.max(MIN_PIECE_BYTES, wanted));
}

/** The one-call path's output buffer for `wanted` bytes, at most `maxOutput`. */
export function syncChunkBytes(wanted: number, maxOutput: number): number {
  return Math.max(MIN_PIECE_BYTES, Math.min(maxOutput, wanted + SYNC_TAIL_BYTES));
}

/** Bytes [start, end) of a decompressed stream. */
export interface Slice {
  readonly start: number;
  readonly end: number;
}

/**
 * Slices of a decompressed stream, each copied out of the stream's pieces, in order, into its own
 * buffer of exactly its size (or the piece itself when it is exactly that slice: `ADOPT_WASTE`).
 * Slices may come in any order and may overlap (a hostile TOC's); each gets its own bytes.
 */
export class RangeWindow {
  /** Where the stream stops: the end of the last slice. */
  readonly end: number;
  /** Decompressed bytes seen so far, those before the first slice included. */
  seen = 0;
  private readonly outs: (Buffer | undefined)[];
  /** Slice indexes by start; those before `next` are complete. */
  private readonly order: number[];
  private next = 0;

  constructor(
    private readonly slices: readonly Slice[],
    private readonly stats?: InflateStats,
  ) {
    let end = 0;
    for (const s of slices) {
      if (!(Number.isSafeInteger(s.start) && Number.isSafeInteger(s.end) && s.start >= 0 && s.end >= s.start)) {
        throw new RangeError(`range window: bad slice [${s.start}, ${s.end})`);
      }
      if (s.end > s.start) end = Math.max(end, s.end);
    }
    this.end = end;
    this.outs = slices.map((s) => (s.end === s.start ? Buffer.alloc(0) : undefined));
    this.order = slices.map((_, i) => i).sort((a, b) => slices[a]!.start - slices[b]!.start);
  }

  /** Whether every slice is filled. */
  get done(): boolean {
    return this.seen >= this.end;
  }

  /**
   * The stream path's piece size from here: the size of the last slice when it starts exactly
   * here (its one piece then becomes its buffer), else `pieceBytesFor` what is still wanted.
   */
  pieceBytes(): number {
    const wanted = this.end - this.seen;
    const last = this.order.length === 0 ? undefined : this.slices[this.order[this.order.length - 1]!]!;
    const untouched = this.next === this.order.length - 1 && last !== undefined && last.start === this.seen && last.end === this.end;
    if (untouched && wanted >= MIN_PIECE_BYTES && wanted <= SYNC_MAX_OUTPUT) return wanted;
    return pieceBytesFor(wanted);
  }

  /** Takes the next piece of the stream; true once every slice is filled. */
  readonly take = (piece: Buffer): boolean => {
    const at = this.seen;
    const to = at + piece.length;
    for (let k = this.next; k < this.order.length; k++) {
      const i = this.order[k]!;
      const s = this.slices[i]!;
      if (s.start >= to) break;
      if (s.end <= at) continue;
      if (this.outs[i] === undefined && s.start >= at && s.end <= to && adoptable(piece, s.end - s.start)) {
        this.outs[i] = piece.subarray(s.start - at, s.end - at);
        continue;
      }
      const out = (this.outs[i] ??= Buffer.allocUnsafeSlow(s.end - s.start));
      const from = Math.max(s.start, at);
      piece.copy(out, from - s.start, from - at, Math.min(s.end, to) - at);
    }
    this.seen = to;
    while (this.next < this.order.length && this.slices[this.order[this.next]!]!.end <= to) this.next++;
    if (this.stats) this.stats.inflatedBytes += piece.length;
    return this.done;
  };

  /** Each slice's bytes, in the order given; throws (`endsAfter`: "the … stream ends after") when the stream ended short. */
  results(endsAfter: string): Buffer[] {
    if (!this.done) throw new Error(`${endsAfter} ${this.seen} bytes, before byte ${this.end}`);
    // Every slice of positive length lies in [0, seen): some piece touched it.
    return this.outs as Buffer[];
  }
}

/** A piece whose memory is (nearly) just `length` bytes: not a view into a pool or a larger output. */
function adoptable(piece: Buffer, length: number): boolean {
  return piece.buffer.byteLength <= length + Math.floor(length / ADOPT_WASTE);
}
