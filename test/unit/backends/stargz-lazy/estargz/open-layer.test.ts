import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MalformedEstargzError, NotEstargzError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { bufferReader, buildBlob, loadFixture, tarOf } from './make-blob.js';

describe('openLayer', () => {
  it('opens a blob with two reads: the footer, then the TOC', async () => {
    const { blob, expected } = loadFixture('full');
    const reader = bufferReader(blob);
    const layer = await openLayer(reader, { expectedTocDigest: expected.tocDigest });
    expect(layer.tocDigest).toBe(expected.tocDigest);
    expect(reader.reads).toEqual([
      [blob.length - 72, 72],
      [layer.footer.tocOffset, blob.length - 51 - layer.footer.tocOffset],
    ]);
    expect(layer.index.lookup('etc/hostname')).toMatchObject({ type: 'reg', size: 13 });
  });

  it('tells an ordinary gzip layer apart after one small read', async () => {
    const layer = gzipSync(tarOf('etc/hostname', Buffer.from('host\n')));
    const reader = bufferReader(layer);
    await expect(openLayer(reader)).rejects.toThrow(NotEstargzError);
    expect(reader.reads).toHaveLength(1);
  });

  it('refuses a TOC that does not match the annotation', async () => {
    const { blob } = loadFixture('plain');
    await expect(openLayer(bufferReader(blob), { expectedTocDigest: loadFixture('full').expected.tocDigest })).rejects.toThrow(
      VerificationError,
    );
  });

  it('refuses a truncated blob', async () => {
    const { blob } = loadFixture('full');
    await expect(openLayer(bufferReader(blob.subarray(0, blob.length - 10)))).rejects.toThrow(NotEstargzError);
    const { blob: b2 } = buildBlob([{ name: 'a', data: Buffer.from('a') }]);
    // The footer survives but the TOC member lost its head.
    const cut = Buffer.concat([b2.subarray(0, 40), b2.subarray(b2.length - 51)]);
    await expect(openLayer(bufferReader(cut))).rejects.toThrow(MalformedEstargzError);
  });

  it('refuses a reader that returns short reads', async () => {
    const { blob } = loadFixture('plain');
    const reader = { size: blob.length, read: (o: number, l: number) => Promise.resolve(blob.subarray(o, o + l - 1)) };
    await expect(openLayer(reader)).rejects.toThrow(InvalidArgumentError);
  });

  it('hands its signal to the indexer (a mount request that goes away stops the indexing)', async () => {
    const { blob } = loadFixture('full');
    const abort = new AbortController();
    let seen: AbortSignal | undefined;
    const indexer = { index: (r: { signal?: AbortSignal | undefined }) => ((seen = r.signal), Promise.reject(new Error('stop here'))) };
    await expect(openLayer(bufferReader(blob), { indexer, signal: abort.signal })).rejects.toThrow('stop here');
    expect(seen).toBe(abort.signal);
    abort.abort(new Error('gone'));
    // In this thread, an aborted signal keeps the job from starting.
    await expect(openLayer(bufferReader(blob), { signal: abort.signal })).rejects.toThrow('gone');
  });
});
