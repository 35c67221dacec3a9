/**
 * Inflating part of a gzip stream that may span several members, as the data from a chunk's
 * offset can (Go's reader reads it as one multistream). Each member's header is parsed here
 * and its deflate body inflated raw, so that bytes after the last member (the next member's
 * head in a partial fetch, anything at all) never turn a complete read into an error, and the
 * work stops as soon as the wanted bytes are in. Member CRCs are not checked: callers verify
 * the inflated bytes against a stronger digest.
 *
 * Bounded by what is wanted, never by what the data holds (gzip bombs): nothing past `end` is
 * inflated but the last output piece (the one-call path for small members is capped at
 * `end + SLACK_BYTES`, range-window.ts, and falls back to the stream when the member holds more), and
 * the memory one call uses is the slices' own sizes for the results plus
 * `inflateScratchBytes(end)` while it runs. A member may carry bytes the TOC does not
 * describe (tar padding and the headers of the entries after a file, in the upstream writer's
 * layout), so bytes beyond `end` are not an error: they are simply never inflated.
 */
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { outputScratchBytes, RangeWindow, SLACK_BYTES, syncChunkBytes, SYNC_MAX_INPUT, SYNC_MAX_OUTPUT, type Slice } from './range-window.js';

const FTEXT_RESERVED = 0xe0;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const TRAILER = 8;

/** What one `inflateRanges` call did (for tests and measurements). */
export interface InflateStats {
  /** Decompressed bytes produced, those before `start` and the last piece's tail included. */
  inflatedBytes: number;
}

/**
 * Each slice of the gzip stream in `compressed`, decompressed once for all of them, in its own
 * buffer of exactly its size (range-window.ts); throws when the stream is corrupt or ends before
 * the last slice's end.
 */
export async function inflateRanges(compressed: Uint8Array, slices: readonly Slice[], stats?: InflateStats): Promise<Buffer[]> {
  const window = new RangeWindow(slices, stats);
  const { take, end } = window;
  let pos = 0; // position in `compressed`
  while (!window.done) {
    if (pos >= compressed.length) break;
    const bodyAt = pos + gzipHeaderLength(compressed, pos);
    const body = compressed.subarray(bodyAt);
    const wanted = end - window.seen;
    const small =
      body.length <= SYNC_MAX_INPUT && wanted <= SYNC_MAX_OUTPUT
        ? inflateSmallMember(body, wanted, Math.min(SYNC_MAX_OUTPUT, wanted + SLACK_BYTES))
        : undefined;
    let consumed: number;
    if (small) {
      take(small.output);
      consumed = small.consumed;
    } else {
      // Pieces as large as what is still wanted (bounded; the last chunk's own size when it
      // starts here): few thread-pool round trips, no large buffer for a small remainder.
      const member = await inflateMember(body, take, window.pieceBytes());
      if (member.done) break;
      consumed = member.consumed;
    }
    pos = bodyAt + consumed + TRAILER;
  }
  return window.results('the gzip stream ends after');
}

/** Length of the gzip member header at `at`. */
function gzipHeaderLength(b: Uint8Array, at: number): number {
  const need = (n: number) => {
    if (at + n > b.length) throw new Error(`gzip header at ${at} is truncated`);
  };
  need(10);
  if (b[at] !== 0x1f || b[at + 1] !== 0x8b) throw new Error(`no gzip member at ${at}`);
  if (b[at + 2] !== 8) throw new Error(`gzip member at ${at}: unknown compression method ${b[at + 2]}`);
  const flags = b[at + 3]!;
  if (flags & FTEXT_RESERVED) throw new Error(`gzip member at ${at}: reserved flags set`);
  let n = 10;
  if (flags & FEXTRA) {
    need(n + 2);
    n += 2 + (b[at + n]! | (b[at + n + 1]! << 8));
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const nul = b.indexOf(0, at + n);
    if (nul === -1) throw new Error(`gzip header at ${at} is truncated`);
    n = nul - at + 1;
  }
  if (flags & FHCRC) n += 2;
  need(n);
  return n;
}

/**
 * Upper bound of the memory an `inflateRanges` call whose slices end by `end` uses besides its result
 * (range-window.ts: the one-call path's output or the stream path's pieces).
 */
export function inflateScratchBytes(end: number): number {
  return outputScratchBytes(end);
}

/**
 * The whole member inflated at once and the input bytes its deflate body used, or undefined
 * when it inflates to more than `maxOutput` (the stream path then takes only what is wanted).
 * Corrupt or truncated data throws, as the stream path does.
 */
function inflateSmallMember(body: Uint8Array, wanted: number, maxOutput: number): { output: Buffer; consumed: number } | undefined {
  try {
    const options = { info: true, maxOutputLength: maxOutput, chunkSize: syncChunkBytes(wanted, maxOutput) };
    const { buffer, engine } = inflateRawSync(body, options) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    return { output: buffer, consumed: engine.bytesWritten };
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
    throw err;
  }
}

/** Inflate one raw deflate body, feeding `take` until it says enough. */
function inflateMember(body: Uint8Array, take: (piece: Buffer) => boolean, pieceBytes: number): Promise<{ done: boolean; consumed: number }> {
  return new Promise((resolve, reject) => {
    const inflate = createInflateRaw({ chunkSize: pieceBytes });
    let settled = false;
    const settle = (result: { done: boolean; consumed: number } | Error) => {
      if (settled) return;
      settled = true;
      inflate.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    inflate.on('data', (piece: Buffer) => {
      if (!settled && take(piece)) settle({ done: true, consumed: 0 });
    });
    inflate.on('end', () => settle({ done: false, consumed: inflate.bytesWritten }));
    inflate.on('error', (err: Error) => settle(err));
    inflate.end(body);
  });
}
