/**
 * Decompressing part of the zstd frames at a chunk's offset (zstd:chunked): the counterpart of
 * ../estargz/gzip-stream.ts. Each member is one zstd frame (a chunk, or several small files
 * packed together); the data from a chunk's offset may span several frames, which libzstd reads
 * as one stream. No checksum is needed: callers verify the bytes against the chunk's digest.
 *
 * Bounded by what is wanted, never by what the data holds (bombs): the one-call path for small
 * inputs is capped at `end + SLACK_BYTES` (`maxOutputLength`) and falls back to the stream when
 * the frames hold more; the stream stops as soon as `end` bytes are out, so nothing past `end`
 * is decompressed but the last output piece. The decoder's window is capped by `windowLog`
 * (a frame declaring a larger one is refused before its window is allocated).
 */
import { constants, createZstdDecompress, zstdDecompressSync } from 'node:zlib';
import type { InflateStats } from '../estargz/gzip-stream.js';
import { outputScratchBytes, PIECE_BYTES, RangeWindow, SLACK_BYTES, syncChunkBytes, SYNC_MAX_INPUT, SYNC_MAX_OUTPUT, type Slice } from '../estargz/range-window.js';

/**
 * Upper bound of the memory a `zstdRanges` call whose slices end by `end` uses besides its result: the
 * one-call output or the stream's pieces, plus the decoder's window buffer (which holds what was
 * decompressed, at most `end` plus a piece, never more than the window).
 */
export function zstdScratchBytes(end: number): number {
  return outputScratchBytes(end) + end + PIECE_BYTES;
}

/**
 * Each slice of the zstd frames in `compressed`, decompressed once for all of them, in its own
 * buffer of exactly its size (../estargz/range-window.ts); throws when the data is corrupt or
 * ends before the last slice's end.
 */
export async function zstdRanges(compressed: Uint8Array, slices: readonly Slice[], windowLog: number, stats?: InflateStats): Promise<Buffer[]> {
  const window = new RangeWindow(slices, stats);
  const { take, end } = window;
  const endsAfter = 'the zstd frames end after';
  if (window.done) return window.results(endsAfter);
  const params = { [constants.ZSTD_d_windowLogMax]: windowLog };
  if (compressed.length <= SYNC_MAX_INPUT && end <= SYNC_MAX_OUTPUT) {
    const whole = decompressSmall(compressed, end, Math.min(SYNC_MAX_OUTPUT, end + SLACK_BYTES), params);
    if (whole !== undefined) {
      take(whole);
      return window.results(endsAfter);
    }
  }
  const pieceBytes = window.pieceBytes();
  await new Promise<void>((resolve, reject) => {
    const z = createZstdDecompress({ chunkSize: pieceBytes, params });
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      z.destroy();
      if (err) reject(err);
      else resolve();
    };
    z.on('data', (piece: Buffer) => {
      if (!settled && take(piece)) settle();
    });
    z.on('end', () => settle(new Error(`${endsAfter} ${window.seen} bytes, before byte ${end}`)));
    z.on('error', (err: Error) => settle(err));
    z.end(compressed);
  });
  return window.results(endsAfter);
}

/**
 * All the frames at once, or undefined when they hold more than `maxOutput` or do not decode
 * whole (the stream path then takes what is wanted and names the problem: bytes after the
 * wanted frames, such as the head of the next member, must not fail a complete read).
 */
function decompressSmall(compressed: Uint8Array, wanted: number, maxOutput: number, params: Record<number, number>): Buffer | undefined {
  try {
    return zstdDecompressSync(compressed, { maxOutputLength: maxOutput, chunkSize: syncChunkBytes(wanted, maxOutput), params });
  } catch {
    return undefined;
  }
}
