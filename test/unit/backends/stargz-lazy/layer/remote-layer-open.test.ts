/**
 * What `RemoteLayer.open` asks the registry for: one suffix range of OPEN_TAIL_BYTES (size,
 * footer, a small TOC), and for a TOC the tail does not hold, one more range for exactly the
 * part it missed; eStargz and zstd:chunked alike. Then reads of a zstd:chunked layer.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { OPEN_TAIL_BYTES, RemoteLayer, type LayerBlobReader } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { buildBlob, type SynthFile } from '../estargz/make-blob.js';
import { buildZstdBlob } from '../estargz/make-zstd-blob.js';
import { removeTemps, tempCache } from './layer-env.js';

afterAll(removeTemps);

function recordingReader(blob: Buffer): LayerBlobReader & { requests: string[] } {
  const requests: string[] = [];
  return {
    digest: 'sha256:test',
    requests,
    size: () => Promise.resolve(blob.length),
    readTail: (n: number) => {
      requests.push(`tail ${n}`);
      return Promise.resolve({ size: blob.length, data: blob.subarray(Math.max(0, blob.length - n)) });
    },
    readRanges: (ranges: readonly { offset: number; length: number }[]) => {
      for (const r of ranges) requests.push(`range ${r.offset}+${r.length}`);
      return Promise.resolve(ranges.map((r) => blob.subarray(r.offset, r.offset + r.length)));
    },
  } as LayerBlobReader & { requests: string[] };
}

const manyFiles = (n: number): SynthFile[] =>
  Array.from({ length: n }, (_, i) => ({ name: `d/${randomBytes(12).toString('hex')}-${i}`, data: Buffer.from(`file ${i}\n`) }));

describe('RemoteLayer.open registry requests', () => {
  for (const [format, build] of [
    ['estargz', (f: SynthFile[]) => buildBlob(f)],
    ['zstd:chunked', (f: SynthFile[]) => buildZstdBlob(f, { pack: true })],
  ] as const) {
    it(`${format}: one tail request for a small TOC`, async () => {
      const built = build(manyFiles(5));
      const reader = recordingReader(built.blob);
      const c = await tempCache(0);
      const layer = await RemoteLayer.open({ blob: reader, expectedTocDigest: built.tocDigest, cache: c.cache, log: c.log });
      expect(reader.requests).toEqual([`tail ${OPEN_TAIL_BYTES}`]);
      expect(layer.format).toBe(format);
    });

    it(`${format}: a TOC larger than the tail costs one exact range for the part it missed`, async () => {
      const built = build(manyFiles(3000));
      const reader = recordingReader(built.blob);
      const c = await tempCache(0);
      const layer = await RemoteLayer.open({ blob: reader, expectedTocDigest: built.tocDigest, cache: c.cache, log: c.log });
      const tocStart = format === 'zstd:chunked' ? built.tocOffset - 8 : built.tocOffset;
      const tailStart = built.blob.length - OPEN_TAIL_BYTES;
      expect(tocStart).toBeLessThan(tailStart);
      expect(reader.requests).toEqual([`tail ${OPEN_TAIL_BYTES}`, `range ${tocStart}+${tailStart - tocStart}`]);
      const node = layer.index.lookup(built.toc.entries[2000]!.name)!;
      expect((await layer.read(node, 0, 100)).toString()).toBe('file 2000\n');
    });
  }
});
