import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  EstargzLimitError,
  MalformedEstargzError,
  VerificationError,
} from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { footerFetchSize, parseFooter } from '../../../../../backends/stargz-lazy/estargz/footer.js';
import { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import { parseToc, tocRange } from '../../../../../backends/stargz-lazy/estargz/toc.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { buildBlob, loadFixture, sha256, tarHeader, tarOf } from './make-blob.js';

function tocBytes(blob: Buffer, limits?: Parameters<typeof tocRange>[2]): Buffer {
  const footer = parseFooter(blob.subarray(blob.length - footerFetchSize(blob.length)), blob.length);
  const range = tocRange(footer, blob.length, limits);
  return blob.subarray(range.offset, range.offset + range.length);
}

const oneFile = () => buildBlob([{ name: 'a.txt', data: Buffer.from('hello') }]);

describe('parseToc', () => {
  it('parses the upstream writer TOC and computes the digest the writer reported', async () => {
    const { blob, expected } = loadFixture('full');
    const { toc, digest } = await parseToc(tocBytes(blob), { expectedDigest: expected.tocDigest });
    expect(digest).toBe(expected.tocDigest);
    expect(toc.version).toBe(1);
    const big = toc.entries.filter((e) => e.name === 'data/big.bin');
    expect(big.map((e) => e.type)).toEqual(['reg', 'chunk', 'chunk', 'chunk', 'chunk']);
    const xattr = toc.entries.find((e) => e.name === 'data/xattr.txt');
    expect(xattr?.xattrs?.['user.fixture']).toBe(Buffer.from('value-1').toString('base64'));
  });

  it('refuses a TOC whose digest differs from the annotation, before parsing it', async () => {
    const { blob } = loadFixture('plain');
    const wrong = `sha256:${'0'.repeat(64)}`;
    const err = await parseToc(tocBytes(blob), { expectedDigest: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).code).toBe('UNAVAILABLE');
    expect((err as VerificationError).expected).toBe(wrong);
    expect((err as VerificationError).actual).toBe(loadFixture('plain').expected.tocDigest);
  });

  it('checks the digest over the JSON bytes: one changed byte of whitespace is a mismatch', async () => {
    const good = oneFile();
    const edited = buildBlob([{ name: 'a.txt', data: Buffer.from('hello') }], { tocJson: `${good.tocJson.toString()} ` });
    await expect(parseToc(tocBytes(edited.blob), { expectedDigest: good.tocDigest })).rejects.toThrow(VerificationError);
    await expect(parseToc(tocBytes(good.blob), { expectedDigest: good.tocDigest })).resolves.toMatchObject({ digest: good.tocDigest });
  });

  it('supports sha512 annotations and refuses malformed ones as a caller error', async () => {
    const good = oneFile();
    const { createHash } = await import('node:crypto');
    const sha512 = `sha512:${createHash('sha512').update(good.tocJson).digest('hex')}`;
    await expect(parseToc(tocBytes(good.blob), { expectedDigest: sha512 })).resolves.toMatchObject({ digest: sha512 });
    await expect(parseToc(tocBytes(good.blob), { expectedDigest: 'sha256:abc' })).rejects.toThrow(InvalidArgumentError);
    await expect(parseToc(tocBytes(good.blob), { expectedDigest: 'sha256:abc' })).rejects.not.toThrow(MalformedEstargzError);
  });

  it('tolerates unknown fields but validates typed ones', async () => {
    const tolerant = buildBlob([{ name: 'a', data: Buffer.from('x'), entry: { NumLink: 3, futureField: { a: 1 } } }], {
      mutateToc: (t) => Object.assign(t, { extra: true }),
    });
    const { toc } = await parseToc(tocBytes(tolerant.blob));
    // Checked in place (not copied): unknown fields stay but nothing reads them.
    expect(toc.entries[0]).toMatchObject({ name: 'a', type: 'reg', size: 1 });
    expect(LayerIndex.build(toc, { tocOffset: 1 << 20 }).lookup('a')?.size).toBe(1);

    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['bad type', { type: 'socket' }, /entries\[0\]\.type/],
      ['negative offset', { offset: -1 }, /entries\[0\]\.offset/],
      ['fractional size', { size: 1.5 }, /entries\[0\]\.size/],
      ['string uid', { uid: '0' }, /entries\[0\]\.uid/],
      ['bad digest', { chunkDigest: 'md5:abcd' }, /entries\[0\]\.chunkDigest: expected a digest/],
      ['upper-case digest', { digest: `sha256:${'A'.repeat(64)}` }, /entries\[0\]\.digest/],
      ['bad xattr', { xattrs: { 'user.a': 'not base64!' } }, /entries\[0\]\.xattrs\.user\.a: expected base64/],
      ['missing name', { name: undefined }, /entries\[0\]\.name/],
    ];
    for (const [label, patch, message] of cases) {
      const built = buildBlob([{ name: 'a', data: Buffer.from('x') }], { mutateToc: (t) => Object.assign(t.entries[0]!, patch) });
      const err = await parseToc(tocBytes(built.blob)).catch((e: unknown) => e);
      expect(err, label).toBeInstanceOf(MalformedEstargzError);
      expect((err as Error).message, label).toMatch(message);
    }
  });

  it('refuses other TOC versions, non-JSON and a missing entries list', async () => {
    const v2 = buildBlob([], { mutateToc: (t) => (t.version = 2) });
    await expect(parseToc(tocBytes(v2.blob))).rejects.toThrow(/version/);
    const notJson = buildBlob([], { tocJson: '{"version": 1, "entries": [' });
    await expect(parseToc(tocBytes(notJson.blob))).rejects.toThrow(/TOC JSON/);
    const noEntries = buildBlob([], { tocJson: '{"version": 1}' });
    await expect(parseToc(tocBytes(noEntries.blob))).rejects.toThrow(/entries/);
    const nul = buildBlob([], { tocJson: 'null' });
    await expect(parseToc(tocBytes(nul.blob))).rejects.toThrow(MalformedEstargzError);
  });

  it('refuses an absurd entry count before validating entries', async () => {
    const entries = Array.from({ length: 50_001 }, () => 0);
    const built = buildBlob([], { tocJson: JSON.stringify({ version: 1, entries }) });
    const err = await parseToc(tocBytes(built.blob), { limits: { maxEntries: 50_000, maxTocRatio: 1000 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EstargzLimitError);
    expect(err).toMatchObject({ limit: 'maxEntries', actual: 50_001, max: 50_000 });
  });

  it('caps the compressed size before fetching, and the decompressed size and ratio while inflating', async () => {
    const { blob } = loadFixture('full');
    expect(() => tocBytes(blob, { maxTocCompressedBytes: 100 })).toThrow(EstargzLimitError);
    await expect(parseToc(tocBytes(blob), { limits: { maxTocCompressedBytes: 100 } })).rejects.toMatchObject({
      limit: 'maxTocCompressedBytes',
    });
    await expect(parseToc(tocBytes(blob), { limits: { maxTocBytes: 4096 } })).rejects.toMatchObject({ limit: 'maxTocBytes' });
    // A gzip bomb: 64 MiB of spaces inside the JSON compress about 1000:1.
    const bomb = gzipSync(tarOf('stargz.index.json', Buffer.alloc(64 * 1024 * 1024, 0x20)));
    const err = await parseToc(bomb).catch((e: unknown) => e);
    expect(err).toMatchObject({ limit: 'maxTocRatio' });
    expect((err as Error).message).toMatch(/TOC decompression ratio/);
  });

  it('refuses bad gzip and bad tar structure', async () => {
    await expect(parseToc(Buffer.from('definitely not gzip'))).rejects.toThrow(/TOC gzip member/);
    const wrongName = buildBlob([], { tocName: 'other.json' });
    await expect(parseToc(tocBytes(wrongName.blob))).rejects.toThrow(/named "other.json"/);
    const json = Buffer.from('{"version":1,"entries":[]}');
    const badSum = tarOf('stargz.index.json', json);
    badSum[0] = 0x53; // name changes, checksum does not
    await expect(parseToc(gzipSync(badSum))).rejects.toThrow(/bad checksum/);
    const symlink = tarOf('stargz.index.json', json, '2');
    await expect(parseToc(gzipSync(symlink))).rejects.toThrow(/want a regular file/);
    const short = tarOf('stargz.index.json', json).subarray(0, 520);
    await expect(parseToc(gzipSync(short))).rejects.toThrow(/past the end/);
    await expect(parseToc(gzipSync(Buffer.alloc(1024)))).rejects.toThrow(/no stargz.index.json entry/);
    await expect(parseToc(gzipSync(Buffer.alloc(100)))).rejects.toThrow(/runs past the end/);
  });

  it('reads a TOC entry preceded by a pax header', async () => {
    const json = Buffer.from('{"version":1,"entries":[]}');
    const record = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 2;
      if (String(len).length + body.length !== len) len = String(len + 1).length + body.length;
      return `${len}${body}`;
    };
    const paxData = Buffer.from(record('path', 'stargz.index.json') + record('size', String(json.length)));
    const paxBlock = Buffer.concat([tarHeader('PaxHeaders/x', paxData.length, 'x'), paxData, Buffer.alloc(512 - paxData.length)]);
    const entry = tarOf('ignored-by-pax-path', Buffer.concat([json, Buffer.alloc(7)]));
    const { digest, toc } = await parseToc(gzipSync(Buffer.concat([paxBlock, entry])));
    expect(toc.entries).toEqual([]);
    expect(digest).toBe(sha256(json));
  });
});
