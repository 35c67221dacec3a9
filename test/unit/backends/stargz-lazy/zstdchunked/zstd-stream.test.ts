import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { zstdCompressSync, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { zstdRanges, zstdScratchBytes } from '../../../../../backends/stargz-lazy/zstdchunked/zstd-stream.js';
import type { InflateStats } from '../../../../../backends/stargz-lazy/estargz/gzip-stream.js';

/** Bytes [start, end) of the frames: one slice of `zstdRanges`. */
async function zstdRange(compressed: Uint8Array, start: number, end: number, windowLog: number, stats?: InflateStats): Promise<Buffer> {
  return (await zstdRanges(compressed, [{ start, end: Math.max(start, end) }], windowLog, stats))[0]!;
}

const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(500_000, 3), randomBytes(100_000)]);
const frame = zstdCompressSync(data);

describe('zstdRange', () => {
  it('returns any range of a frame, small (one call) and large (stream)', async () => {
    for (const [start, end] of [
      [0, 10],
      [1000, 2000],
      [299_000, 800_100],
      [0, data.length],
    ] as const) {
      expect(await zstdRange(frame, start, end, 24)).toEqual(data.subarray(start, end));
    }
    const small = Buffer.from('packed-a packed-b packed-c');
    expect((await zstdRange(zstdCompressSync(small), 9, 17, 24)).toString()).toBe('packed-b');
  });

  it('reads across frames, and ignores the head of the next member when the wanted bytes are in', async () => {
    const a = zstdCompressSync(Buffer.from('first.'));
    const b = zstdCompressSync(Buffer.from('second'));
    expect((await zstdRange(Buffer.concat([a, b]), 3, 12, 24)).toString()).toBe('st.second');
    expect((await zstdRange(Buffer.concat([a, b.subarray(0, 4)]), 0, 6, 24)).toString()).toBe('first.');
  });

  it('stops at end: a bomb costs what is wanted plus one piece, not what it holds', async () => {
    const bomb = zstdCompressSync(Buffer.alloc(256 * 1024 * 1024));
    const stats = { inflatedBytes: 0 };
    const out = await zstdRange(bomb, 0, 1024 * 1024, 24, stats);
    expect(out.length).toBe(1024 * 1024);
    expect(stats.inflatedBytes).toBeLessThanOrEqual(1024 * 1024 + zstdScratchBytes(1024 * 1024));
    expect(stats.inflatedBytes).toBeLessThan(8 * 1024 * 1024);
  });

  it('fails on truncated and corrupt data and on a frame asking a window above the cap', async () => {
    await expect(zstdRange(frame.subarray(0, frame.length - 10), 0, data.length, 24)).rejects.toThrow();
    await expect(zstdRange(frame, 0, data.length + 1, 24)).rejects.toThrow(/end after/);
    const corrupt = Buffer.from(frame);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0xff;
    const got = await zstdRange(corrupt, 0, data.length, 24).catch((e: unknown) => e);
    if (Buffer.isBuffer(got)) expect(got.equals(data)).toBe(false);
    else expect(got).toBeInstanceOf(Error);
    const wide = zstdCompressSync(data, { params: { [constants.ZSTD_c_windowLog]: 26 }, pledgedSrcSize: undefined });
    // A frame whose window (or content) needs more than 2^10 bytes is refused before decoding.
    await expect(zstdRange(wide, 0, 10, 10)).rejects.toThrow(/memory/);
  });

  it('property: random ranges of random frames equal the source bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.nat(), fc.nat(), async (bytes, a, b) => {
        const src = Buffer.from(bytes);
        const start = src.length === 0 ? 0 : a % src.length;
        const end = start + (src.length - start === 0 ? 0 : b % (src.length - start + 1));
        expect(await zstdRange(zstdCompressSync(src), start, end, 24)).toEqual(src.subarray(start, end));
      }),
      { numRuns: 200 },
    );
  });

  it('property: garbage never crashes or returns more than asked', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2000 }), fc.nat({ max: 100_000 }), async (bytes, end) => {
        try {
          const out = await zstdRange(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), bytes]), 0, end, 24);
          expect(out.length).toBe(end);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 300 },
    );
  });
});
