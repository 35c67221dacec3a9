import fc from 'fast-check';
import { zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EstargzLimitError, MalformedEstargzError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { footerFetchSize, parseFooter } from '../../../../../backends/stargz-lazy/estargz/footer.js';
import { resolveLimits } from '../../../../../backends/stargz-lazy/estargz/limits.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { parseToc, tocRange } from '../../../../../backends/stargz-lazy/estargz/toc.js';
import { decompressZstdToc } from '../../../../../backends/stargz-lazy/zstdchunked/zstd-toc.js';
import { isSnaphostError } from '../../../../../core/contract/errors.js';
import { bufferReader } from '../estargz/make-blob.js';
import { buildZstdBlob, skippable } from '../estargz/make-zstd-blob.js';

const files = [
  { name: 'etc/', entry: { type: 'dir' } },
  { name: 'etc/hostname', data: Buffer.from('host\n') },
  { name: 'big.bin', data: Buffer.alloc(300_000, 7), chunkSize: 100_000 },
];

function tocOf(blob: Buffer, limits?: Parameters<typeof tocRange>[2]) {
  const footer = parseFooter(blob.subarray(blob.length - footerFetchSize(blob.length)), blob.length);
  if (footer.format !== 'zstd:chunked') throw new Error('not zstd:chunked');
  const range = tocRange(footer, blob.length, limits);
  return { framed: blob.subarray(range.offset, range.offset + range.length), declared: footer.tocUncompressedLength };
}

const parse = (blob: Buffer, opts: { expectedDigest?: string; limits?: Parameters<typeof parseToc>[1]['limits'] } = {}) => {
  const { framed, declared } = tocOf(blob, opts.limits);
  return parseToc(framed, { ...opts, format: 'zstd:chunked', declaredTocBytes: declared });
};

describe('zstd:chunked TOC', () => {
  it('decompresses, digests the JSON and checks it against the annotation', async () => {
    const built = buildZstdBlob(files);
    const { toc, digest } = await parse(built.blob, { expectedDigest: built.tocDigest });
    expect(digest).toBe(built.tocDigest);
    expect(toc.entries.map((e) => e.name)).toContain('big.bin');
    await expect(parse(built.blob, { expectedDigest: `sha256:${'0'.repeat(64)}` })).rejects.toThrow(VerificationError);
  });

  it('opens a layer with two reads: the tail, then exactly the TOC frame', async () => {
    const built = buildZstdBlob(files, { pack: true });
    const reader = bufferReader(built.blob);
    const opened = await openLayer(reader, { expectedTocDigest: built.tocDigest });
    expect(opened.footer.format).toBe('zstd:chunked');
    expect(reader.reads).toEqual([
      [built.blob.length - 72, 72],
      [built.tocOffset - 8, built.blob.length - 48 - built.tocOffset + 8],
    ]);
    expect(opened.index.lookup('etc/hostname')).toMatchObject({ type: 'reg', size: 5 });
  });

  it('checks the declared length against the caps before decompressing', async () => {
    const built = buildZstdBlob(files, { footer: { tocUncompressedLength: 300n * 1024n * 1024n } });
    const err = await parse(built.blob).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EstargzLimitError);
    expect((err as EstargzLimitError).limit).toBe('maxTocBytes');
    const ratio = buildZstdBlob(files, { footer: { tocUncompressedLength: 10_000_000n } });
    await expect(parse(ratio.blob)).rejects.toMatchObject({ limit: 'maxTocRatio' });
  });

  it('refuses a footer that lies about the JSON length, either way', async () => {
    const built = buildZstdBlob(files);
    const short = buildZstdBlob(files, { footer: { tocUncompressedLength: BigInt(built.tocJson.length - 1) } });
    // Decompression stops one byte past the declared length.
    await expect(parse(short.blob)).rejects.toThrow(`decompresses to ${built.tocJson.length} bytes, its footer declares ${built.tocJson.length - 1}`);
    const long = buildZstdBlob(files, { footer: { tocUncompressedLength: BigInt(built.tocJson.length + 1) } });
    await expect(parse(long.blob)).rejects.toThrow(/decompresses to \d+ bytes, its footer declares/);
  });

  it('stops a bomb at the cap: refused at maxTocBytes, not after the whole bomb', async () => {
    const limits = resolveLimits({ maxTocBytes: 1024 * 1024, maxTocRatio: 1_000_000 });
    const bomb = zstdCompressSync(Buffer.alloc(64 * 1024 * 1024));
    const started = Date.now();
    const err = await decompressZstdToc(skippable(bomb), undefined, limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EstargzLimitError);
    expect((err as EstargzLimitError).limit).toBe('maxTocBytes');
    expect(Date.now() - started).toBeLessThan(2000);
    // With the default ratio cap the same bomb is refused by ratio.
    await expect(decompressZstdToc(skippable(bomb), undefined, resolveLimits())).rejects.toMatchObject({ limit: 'maxTocRatio' });
  });

  it('refuses a compressed TOC above maxTocCompressedBytes before fetching it', () => {
    const built = buildZstdBlob(files);
    expect(() => tocOf(built.blob, { maxTocCompressedBytes: 10 })).toThrow(EstargzLimitError);
  });

  it('names truncated and corrupt frames and a wrong frame header', async () => {
    const built = buildZstdBlob(files);
    const { framed, declared } = tocOf(built.blob);
    const limits = resolveLimits();
    await expect(decompressZstdToc(framed.subarray(0, framed.length - 3), declared, limits)).rejects.toThrow(/frame says/);
    const truncated = skippable(framed.subarray(8, framed.length - 3));
    await expect(decompressZstdToc(truncated, declared, limits)).rejects.toThrow(MalformedEstargzError);
    const wrongMagic = Buffer.from(framed);
    wrongMagic[0] = 0;
    await expect(decompressZstdToc(wrongMagic, declared, limits)).rejects.toThrow(/skippable frame/);
    await expect(decompressZstdToc(framed.subarray(0, 8), declared, limits)).rejects.toThrow(/has no frame/);
  });

  it('property: mutated TOC frames give a TOC with the right digest or a typed error, within the caps', async () => {
    const built = buildZstdBlob(files);
    const { framed, declared } = tocOf(built.blob);
    const limits = resolveLimits({ maxTocBytes: 64 * 1024 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: framed.length - 1 }), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }),
        async (changes) => {
          const bad = Buffer.from(framed);
          for (const { at, xor } of changes) bad[at]! ^= xor;
          try {
            const json = await decompressZstdToc(bad, declared, limits);
            expect(json.length).toBe(declared);
            await parseToc(bad, { format: 'zstd:chunked', declaredTocBytes: declared, expectedDigest: built.tocDigest, limits });
          } catch (err) {
            if (!isSnaphostError(err)) throw err;
            expect(['INVALID_ARGUMENT', 'UNAVAILABLE']).toContain(err.code);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
