import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inflateRanges } from '../../../../../backends/stargz-lazy/estargz/gzip-stream.js';
import { ADOPT_WASTE, PIECE_BYTES, RangeWindow, SYNC_MAX_OUTPUT, type Slice } from '../../../../../backends/stargz-lazy/estargz/range-window.js';
import { zstdRanges } from '../../../../../backends/stargz-lazy/zstdchunked/zstd-stream.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Feeds `data` to a window in pieces of the given sizes (each piece its own exact buffer). */
function feed(window: RangeWindow, data: Buffer, sizes: readonly number[]): void {
  let at = 0;
  for (let i = 0; at < data.length && !window.done; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    window.take(Buffer.from(data.subarray(at, at + n)));
    at += n;
  }
}

/** The memory behind `b` is at most its length plus 1/ADOPT_WASTE: it pins no larger buffer. */
function ownsItsMemory(b: Buffer): boolean {
  return b.buffer.byteLength <= b.length + Math.floor(b.length / ADOPT_WASTE);
}

describe('RangeWindow', () => {
  const data = randomBytes(10_000);

  it('fills slices whose boundaries fall inside pieces, in any order, overlapping or not', () => {
    const slices: Slice[] = [
      { start: 5000, end: 5100 },
      { start: 10, end: 3000 },
      { start: 2999, end: 7000 }, // overlaps the one before
      { start: 7000, end: 7000 }, // empty
      { start: 9000, end: 10_000 },
    ];
    const window = new RangeWindow(slices);
    feed(window, data, [777]);
    const out = window.results('ends after');
    slices.forEach((s, i) => expect(out[i]).toEqual(data.subarray(s.start, s.end)));
    for (const b of out) expect(ownsItsMemory(b)).toBe(true);
  });

  it('property: every slice gets exactly its bytes in a buffer of its own, whatever the pieces', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(data.length), fc.nat(3000)), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 5 }),
        (pairs, sizes) => {
          const slices = pairs.map(([s, n]) => ({ start: s, end: Math.min(data.length, s + n) }));
          const stats = { inflatedBytes: 0 };
          const window = new RangeWindow(slices, stats);
          feed(window, data, sizes);
          const out = window.results('ends after');
          slices.forEach((s, i) => {
            expect(out[i]).toEqual(data.subarray(s.start, s.end));
            expect(ownsItsMemory(out[i]!)).toBe(true);
          });
          // Never past the last slice's end but for the piece that reached it.
          expect(stats.inflatedBytes).toBeLessThan(window.end + Math.max(...sizes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takes a piece that is exactly one chunk as that chunk (no copy), and copies a view into a larger buffer', () => {
    const chunk = randomBytes(64 * KiB);
    const exact = new RangeWindow([{ start: 0, end: chunk.length }]);
    exact.take(chunk);
    expect(exact.results('ends after')[0]!.buffer).toBe(chunk.buffer);
    // A small chunk inside a large piece (a one-call output, a pool slab): its own copy.
    const large = Buffer.concat([chunk, randomBytes(32 * KiB)]);
    const inside = new RangeWindow([{ start: 0, end: 1000 }]);
    inside.take(large);
    const [small] = inside.results('ends after');
    expect(small).toEqual(large.subarray(0, 1000));
    expect(small!.buffer).not.toBe(large.buffer);
    expect(small!.buffer.byteLength).toBe(1000);
  });

  it('fails when the stream ends before the last slice, naming where', () => {
    const window = new RangeWindow([{ start: 0, end: 100 }, { start: 200, end: 300 }]);
    feed(window, data.subarray(0, 250), [64]);
    expect(window.done).toBe(false);
    expect(() => window.results('the stream ends after')).toThrow('the stream ends after 250 bytes, before byte 300');
    expect(() => new RangeWindow([{ start: 5, end: 4 }])).toThrow(/bad slice/);
  });

  it('asks for one piece of the last chunk when the stream is at its start (bounded), else bounded pieces', () => {
    expect(new RangeWindow([{ start: 0, end: 3 * MiB }]).pieceBytes()).toBe(3 * MiB);
    expect(new RangeWindow([{ start: 0, end: SYNC_MAX_OUTPUT + 1 }]).pieceBytes()).toBe(PIECE_BYTES);
    expect(new RangeWindow([{ start: 10, end: 3 * MiB }]).pieceBytes()).toBe(PIECE_BYTES);
    expect(new RangeWindow([{ start: 0, end: 100 }, { start: 100, end: 3 * MiB }]).pieceBytes()).toBe(PIECE_BYTES);
  });
});

describe('inflateRanges / zstdRanges: chunk buffers', () => {
  // A packed member: chunk boundaries inside the decompressor's pieces, a stream longer than
  // the chunks (padding and a header after them), large enough for the stream path.
  const files = [randomBytes(100 * KiB), randomBytes(300 * KiB), randomBytes(5), randomBytes(700 * KiB)];
  const raw = Buffer.concat([...files.flatMap((f) => [f, Buffer.alloc(512)])]);
  const slices: Slice[] = [];
  let at = 0;
  for (const f of files) {
    slices.push({ start: at, end: at + f.length });
    at += f.length + 512;
  }

  for (const [name, ranges] of [
    ['gzip', (c: Buffer, s: readonly Slice[]) => inflateRanges(c, s)],
    ['zstd', (c: Buffer, s: readonly Slice[]) => zstdRanges(c, s, 24)],
  ] as const) {
    const compress = name === 'gzip' ? gzipSync : zstdCompressSync;

    it(`${name}: each chunk in its own buffer, exact bytes, one decompression for all`, async () => {
      const out = await ranges(compress(raw), slices);
      files.forEach((f, i) => expect(out[i], `chunk ${i}`).toEqual(f));
      for (const b of out) expect(ownsItsMemory(b)).toBe(true);
      expect(new Set(out.map((b) => b.buffer)).size).toBe(out.length);
    });

    it(`${name}: a whole-member chunk is the decompressor's own piece (stream and one-call paths)`, async () => {
      for (const chunk of [randomBytes(3 * MiB), Buffer.alloc(2 * MiB, 7)]) {
        const [out] = await ranges(compress(Buffer.concat([chunk, Buffer.alloc(1024)])), [{ start: 0, end: chunk.length }]);
        expect(out).toEqual(chunk);
        expect(ownsItsMemory(out!)).toBe(true);
      }
    });

    it(`${name}: a member shorter than declared fails, one longer than declared is cut at the last chunk`, async () => {
      const member = compress(raw);
      await expect(ranges(member, [...slices, { start: raw.length, end: raw.length + 1 }])).rejects.toThrow(/after \d+ bytes, before byte/);
      const [cut] = await ranges(member, [{ start: 0, end: 1000 }]);
      expect(cut).toEqual(files[0]!.subarray(0, 1000));
    });

    it(`${name}: a chunk asked for in one piece whose member holds less fails, or goes on into the next member`, async () => {
      const part = randomBytes(1536 * KiB);
      // One member of 1.5 MiB for a chunk declared as 3 MiB: the one piece is not filled.
      await expect(ranges(compress(part), [{ start: 0, end: 2 * part.length }])).rejects.toThrow(`after ${part.length} bytes, before byte ${2 * part.length}`);
      // The chunk's bytes in two members (a multistream): the first piece is copied, not taken.
      const [both] = await ranges(Buffer.concat([compress(part), compress(part)]), [{ start: 0, end: 2 * part.length }]);
      expect(both).toEqual(Buffer.concat([part, part]));
      expect(ownsItsMemory(both!)).toBe(true);
    });
  }
});
