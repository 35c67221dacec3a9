import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MalformedEstargzError, NotEstargzError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { FOOTER_SIZE, footerFetchSize, parseFooter } from '../../../../../backends/stargz-lazy/estargz/footer.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { buildBlob, estargzFooter, legacyFooter, loadFixture, tarOf } from './make-blob.js';

const tailOf = (blob: Buffer) => blob.subarray(blob.length - footerFetchSize(blob.length));

describe('parseFooter', () => {
  it('reads the TOC offset of blobs made by the upstream writer', () => {
    for (const name of ['full', 'plain'] as const) {
      const { blob } = loadFixture(name);
      const footer = parseFooter(tailOf(blob), blob.length);
      expect(footer.format).toBe('estargz');
      expect(footer.size).toBe(51);
      // The TOC member starts with a gzip header.
      expect([...blob.subarray(footer.tocOffset, footer.tocOffset + 2)]).toEqual([0x1f, 0x8b]);
    }
    const { blob } = loadFixture('full');
    expect(parseFooter(tailOf(blob), blob.length).tocOffset).toBe(21774);
  });

  it('reads the legacy 47-byte stargz footer', () => {
    const { blob, tocOffset } = buildBlob([{ name: 'a', data: Buffer.from('x') }], { footer: 'legacy' });
    expect(parseFooter(tailOf(blob), blob.length)).toEqual({ format: 'legacy-stargz', size: 47, tocOffset, dataEnd: tocOffset });
  });

  it('accepts upper-case hex digits', () => {
    const tail = estargzFooter('00000000000000AB');
    expect(parseFooter(tail, 1000).tocOffset).toBe(0xab);
  });

  it('says "not an eStargz blob" for an ordinary gzip layer', () => {
    const layer = gzipSync(tarOf('etc/hostname', Buffer.from('host\n')));
    expect(() => parseFooter(tailOf(layer), layer.length)).toThrow(NotEstargzError);
    expect(() => parseFooter(tailOf(layer), layer.length)).toThrow(/^not an eStargz blob: /);
  });

  it('rejects random bytes, tiny blobs and empty blobs with NotEstargzError', () => {
    const random = Buffer.from(Array.from({ length: 51 }, (_, i) => (i * 37 + 11) & 0xff));
    expect(() => parseFooter(random, 4096)).toThrow(NotEstargzError);
    expect(() => parseFooter(Buffer.alloc(10), 10)).toThrow(NotEstargzError);
    expect(() => parseFooter(Buffer.alloc(0), 0)).toThrow(NotEstargzError);
  });

  it('names what is wrong with each footer form', () => {
    const f = estargzFooter(100);
    f[12] = 0x41; // subfield id "AG"
    expect(() => parseFooter(f, 1000)).toThrow(/eStargz footer: subfield id is not "SG".*legacy stargz footer/);
    const g = estargzFooter(100);
    g.write('STARGY', 32, 'latin1');
    expect(() => parseFooter(g, 1000)).toThrow(/no STARGZ magic/);
    const h = estargzFooter(100);
    h[3] = 0x0c; // FEXTRA | FNAME
    expect(() => parseFooter(h, 1000)).toThrow(/gzip flags/);
  });

  it('rejects a footer whose gzip body is not empty or is corrupt', () => {
    const f = estargzFooter(100);
    f[43] = 0x12; // CRC32 of the empty body must be 0
    expect(() => parseFooter(f, 1000)).toThrow(NotEstargzError);
  });

  it('rejects offsets that are not hex or do not lie before the footer', () => {
    expect(() => parseFooter(estargzFooter('-000000000000001'), 1000)).toThrow(MalformedEstargzError);
    expect(() => parseFooter(estargzFooter('+000000000000001'), 1000)).toThrow(/not 16 hex digits/);
    expect(() => parseFooter(estargzFooter(1000 - 51), 1000)).toThrow(/not before the footer/);
    expect(() => parseFooter(estargzFooter('ffffffffffffffff'), 1000)).toThrow(MalformedEstargzError);
    expect(parseFooter(estargzFooter(1000 - 52), 1000).tocOffset).toBe(948);
    expect(() => parseFooter(Buffer.concat([Buffer.alloc(1), legacyFooter(1)]), 48)).toThrow(/not before the footer/);
    expect(parseFooter(Buffer.concat([Buffer.alloc(2), legacyFooter(1)]), 49).tocOffset).toBe(1);
  });

  it('refuses a tail of the wrong length as a caller error', () => {
    // 72: the largest footer recognised (containers/storage's zstd:chunked, refused by name).
    expect(footerFetchSize(10_000)).toBe(72);
    expect(() => parseFooter(Buffer.alloc(FOOTER_SIZE - 1), 10_000)).toThrow(InvalidArgumentError);
    expect(() => parseFooter(Buffer.alloc(73), 10_000)).toThrow(InvalidArgumentError);
    expect(footerFetchSize(20)).toBe(20);
    expect(() => parseFooter(Buffer.alloc(47), 10_000)).toThrow(InvalidArgumentError);
    expect(() => footerFetchSize(-1)).toThrow(InvalidArgumentError);
    expect(() => footerFetchSize(1.5)).toThrow(InvalidArgumentError);
  });
});
