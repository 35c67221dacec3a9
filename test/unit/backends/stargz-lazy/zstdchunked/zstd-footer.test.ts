import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedEstargzError, NotEstargzError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { footerFetchSize, parseFooter } from '../../../../../backends/stargz-lazy/estargz/footer.js';
import { ZSTD_FOOTER_SIZE } from '../../../../../backends/stargz-lazy/zstdchunked/zstd-footer.js';
import { isSnaphostError } from '../../../../../core/contract/errors.js';
import { buildBlob } from '../estargz/make-blob.js';
import { buildZstdBlob, skippable, zstdFooter } from '../estargz/make-zstd-blob.js';

const tailOf = (blob: Buffer) => blob.subarray(blob.length - footerFetchSize(blob.length));
const files = [{ name: 'a.txt', data: Buffer.from('hello') }];

describe('zstd:chunked footer', () => {
  it('is found in the same tail as the eStargz footers, with the exact TOC range', () => {
    const built = buildZstdBlob(files);
    const f = parseFooter(tailOf(built.blob), built.blob.length);
    expect(f).toEqual({
      format: 'zstd:chunked',
      size: ZSTD_FOOTER_SIZE,
      tocOffset: built.tocOffset,
      tocLength: built.blob.length - ZSTD_FOOTER_SIZE - built.tocOffset,
      tocUncompressedLength: built.tocJson.length,
      dataEnd: built.tocOffset - 8,
    });
    // eStargz is still told apart from the same tail size.
    const gz = buildBlob(files).blob;
    expect(parseFooter(tailOf(gz), gz.length).format).toBe('estargz');
    expect(parseFooter(tailOf(buildBlob(files, { footer: 'legacy' }).blob), buildBlob(files, { footer: 'legacy' }).blob.length).format).toBe('legacy-stargz');
  });

  it('refuses containers/storage footers (64-byte payload) as an unsupported manifest', () => {
    const p = Buffer.alloc(64);
    p.write('GnUlInUx', 56, 'latin1');
    const blob = Buffer.concat([Buffer.alloc(1000), skippable(p)]);
    expect(() => parseFooter(tailOf(blob), blob.length)).toThrow(NotEstargzError);
    expect(() => parseFooter(tailOf(blob), blob.length)).toThrow(/unsupported zstd:chunked manifest/);
  });

  it('refuses other manifest types and frame sizes as unsupported (full pull)', () => {
    for (const footer of [{ type: 2n }, { frameSize: 41 }]) {
      const { blob } = buildZstdBlob(files, { footer });
      expect(() => parseFooter(tailOf(blob), blob.length)).toThrow(/unsupported zstd:chunked manifest/);
    }
  });

  it('refuses lying offsets and lengths as malformed, naming them', () => {
    const good = buildZstdBlob(files);
    const len = BigInt(good.blob.length - ZSTD_FOOTER_SIZE - good.tocOffset);
    const cases: [Parameters<typeof buildZstdBlob>[1], RegExp][] = [
      [{ footer: { tocOffset: 2n ** 63n } }, /TOC offset/],
      [{ footer: { tocOffset: 3n } }, /TOC offset/],
      [{ footer: { tocLength: len + 1n } }, /does not end at the footer/],
      [{ footer: { tocLength: 0n } }, /does not end at the footer/],
      [{ footer: { tocUncompressedLength: 0n } }, /uncompressed length/],
      [{ footer: { tocUncompressedLength: 2n ** 64n - 1n } }, /uncompressed length/],
    ];
    for (const [options, message] of cases) {
      const { blob } = buildZstdBlob(files, options);
      const err = (() => {
        try {
          parseFooter(tailOf(blob), blob.length);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(MalformedEstargzError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('property: any 40-byte payload under the magic gives a footer inside the blob or a typed error', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom(1n, 0n, 2n),
        fc.integer({ min: 72, max: 2 ** 40 }),
        (tocOffset, tocLength, tocUncompressedLength, type, size) => {
          const tail = Buffer.concat([Buffer.alloc(24), zstdFooter({ tocOffset, tocLength, tocUncompressedLength, type })]);
          try {
            const f = parseFooter(tail, size);
            if (f.format !== 'zstd:chunked') throw new Error('not zstd');
            expect(f.tocOffset + f.tocLength).toBe(size - ZSTD_FOOTER_SIZE);
            expect(f.dataEnd).toBeGreaterThanOrEqual(0);
            expect(Number.isSafeInteger(f.tocUncompressedLength) && f.tocUncompressedLength > 0).toBe(true);
          } catch (err) {
            if (!isSnaphostError(err)) throw err;
            expect(err.code).toBe('INVALID_ARGUMENT');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('property: random tails ending in the magic never crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.integer({ min: 72, max: 2 ** 40 }), (bytes, size) => {
        const tail = Buffer.concat([bytes, Buffer.from('GnUlInUx', 'latin1')]);
        try {
          const f = parseFooter(tail, size);
          expect(f.tocOffset).toBeLessThan(size);
        } catch (err) {
          if (!isSnaphostError(err)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
