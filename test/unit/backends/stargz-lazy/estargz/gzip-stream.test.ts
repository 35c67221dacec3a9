import { deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inflateRanges, type InflateStats } from '../../../../../backends/stargz-lazy/estargz/gzip-stream.js';

/** Bytes [start, end) of the stream: one slice of `inflateRanges`. */
async function inflateRange(compressed: Uint8Array, start: number, end: number, stats?: InflateStats): Promise<Buffer> {
  return (await inflateRanges(compressed, [{ start, end: Math.max(start, end) }], stats))[0]!;
}

const a = Buffer.from('A'.repeat(3000) + 'end of a');
const b = Buffer.from('second member '.repeat(100));

describe('inflateRange', () => {
  it('returns a window of one member and stops early', async () => {
    expect(await inflateRange(gzipSync(a), 10, 20)).toEqual(a.subarray(10, 20));
    expect(await inflateRange(gzipSync(a), 0, 0)).toEqual(Buffer.alloc(0));
  });

  it('continues across members, like a multistream reader', async () => {
    const stream = Buffer.concat([gzipSync(a), gzipSync(b)]);
    const both = Buffer.concat([a, b]);
    expect(await inflateRange(stream, a.length - 5, a.length + 5)).toEqual(both.subarray(a.length - 5, a.length + 5));
    expect(await inflateRange(stream, 0, both.length)).toEqual(both);
  });

  it('ignores whatever follows the bytes it needs', async () => {
    const withJunk = Buffer.concat([gzipSync(a), Buffer.from('junk that is not gzip')]);
    expect(await inflateRange(withJunk, 0, a.length)).toEqual(a);
    const withHalfMember = Buffer.concat([gzipSync(a), gzipSync(b).subarray(0, 12)]);
    expect(await inflateRange(withHalfMember, 0, a.length)).toEqual(a);
  });

  it('skips optional header fields (extra, name, comment, header CRC)', async () => {
    const header = Buffer.from([0x1f, 0x8b, 8, 0x04 | 0x08 | 0x10 | 0x02, 0, 0, 0, 0, 0, 3]);
    const member = Buffer.concat([
      header,
      Buffer.from([3, 0, 1, 2, 3]),
      Buffer.from('name.txt\0comment\0'),
      Buffer.from([0xaa, 0xbb]),
      deflateRawSync(a),
      Buffer.alloc(8),
    ]);
    expect(await inflateRange(member, 0, a.length)).toEqual(a);
  });

  it('fails on corrupt, truncated or short streams', async () => {
    await expect(inflateRange(Buffer.from('not gzip at all'), 0, 1)).rejects.toThrow(/no gzip member/);
    await expect(inflateRange(gzipSync(a).subarray(0, 6), 0, 1)).rejects.toThrow(/truncated/);
    await expect(inflateRange(gzipSync(a), 0, a.length + 1)).rejects.toThrow(/ends after/);
    await expect(inflateRange(Buffer.alloc(0), 0, 1)).rejects.toThrow(/ends after 0 bytes/);
    const badMethod = gzipSync(a);
    badMethod[2] = 7;
    await expect(inflateRange(badMethod, 0, 1)).rejects.toThrow(/compression method/);
    const corrupt = gzipSync(a);
    corrupt[12] = 0xff;
    corrupt[13] = 0xff;
    await expect(inflateRange(corrupt, 0, a.length)).rejects.toThrow();
  });
});

describe('inflateRange on gzip bombs', () => {
  const MiB = 1024 * 1024;
  // 64 MiB of one byte: ~64 KiB compressed, under the one-call path's input size.
  const bomb = gzipSync(Buffer.alloc(64 * MiB, 0x62));

  it('never inflates much past the end asked for, whatever the member holds', async () => {
    expect(bomb.length).toBeLessThan(70_000);
    for (const [start, end] of [
      [0, 1 * MiB],
      [0, 10],
      [3 * MiB, 3 * MiB + 100],
      [0, 5 * MiB], // past the one-call path's output: the stream path
    ] as const) {
      const stats = { inflatedBytes: 0 };
      const out = await inflateRange(bomb, start, end, stats);
      expect(out.length).toBe(end - start);
      expect(out.every((x) => x === 0x62)).toBe(true);
      // At most the one-call path's slack (256 KiB) or one stream piece past `end`.
      expect(stats.inflatedBytes, `[${start}, ${end})`).toBeGreaterThanOrEqual(end);
      expect(stats.inflatedBytes, `[${start}, ${end})`).toBeLessThanOrEqual(end + 256 * 1024);
    }
  });
});
