/**
 * Generated inputs for the zstd:chunked readers, as estargz/fuzz.test.ts does for gzip: every
 * outcome is a result or one of our typed errors, and whatever is accepted is safe (no chunk
 * past the data's end, no path escaping the root, never a wrong byte).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readChunk } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import { VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { isSnaphostError } from '../../../../../core/contract/errors.js';
import { bufferReader } from '../estargz/make-blob.js';
import { buildZstdBlob } from '../estargz/make-zstd-blob.js';

const big = Buffer.alloc(120_000);
for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 7)) % 253;
const built = buildZstdBlob(
  [
    { name: 'etc/hostname', data: Buffer.from('host\n') },
    { name: 'etc/os-release', data: Buffer.from('ID=test\n') },
    { name: 'big.bin', data: big, chunkSize: 40_000 },
  ],
  { pack: true },
);

const flips = (length: number) =>
  fc.array(fc.record({ at: fc.nat({ max: length - 1 }), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 });

function mutate(bytes: Uint8Array, changes: { at: number; xor: number }[]): Buffer {
  const out = Buffer.from(bytes);
  for (const { at, xor } of changes) out[at]! ^= xor;
  return out;
}

describe('fuzz: zstd:chunked', () => {
  it('mutated TOC frames and footers open to a safe index or fail with a typed error', async () => {
    const tail = built.blob.length - (built.tocOffset - 8);
    await fc.assert(
      fc.asyncProperty(flips(tail), async (changes) => {
        const blob = built.blob;
        const bad = Buffer.concat([blob.subarray(0, blob.length - tail), mutate(blob.subarray(blob.length - tail), changes)]);
        try {
          const { index, footer } = await openLayer(bufferReader(bad));
          for (const node of index.nodes()) {
            expect(node.path.split('/')).not.toContain('..');
            for (const c of node.chunks) expect(c.offset + c.compressedSize).toBeLessThanOrEqual(footer.dataEnd);
          }
        } catch (err) {
          if (!isSnaphostError(err)) throw err;
          expect(['INVALID_ARGUMENT', 'UNAVAILABLE']).toContain(err.code);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a corrupted or cut frame yields the right bytes or a VerificationError, never other bytes', async () => {
    const { index } = await openLayer(bufferReader(built.blob), { expectedTocDigest: built.tocDigest });
    const c = index.lookup('big.bin')!.chunks[1]!;
    const frame = built.blob.subarray(c.offset, c.offset + c.compressedSize);
    const good = await readChunk(frame, c, { format: 'zstd:chunked' });
    await fc.assert(
      fc.asyncProperty(flips(frame.length), fc.nat({ max: frame.length }), async (changes, cut) => {
        try {
          const got = await readChunk(mutate(frame, changes).subarray(0, frame.length - (cut % 16)), c, { format: 'zstd:chunked' });
          expect(got.equals(good)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(VerificationError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
