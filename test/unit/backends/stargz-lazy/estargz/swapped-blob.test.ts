/**
 * What the TOC digest (the layer's `containerd.io/snapshot/stargz/toc.digest` annotation) buys
 * against whoever answers for a blob (a plain-HTTP registry or mirror, redirected storage, a
 * layer's `urls` host): with it, a blob rebuilt around a forged `etc/hostname` does not open, a
 * genuine TOC in front of swapped data never yields the swapped bytes, and a TOC (even one
 * the annotation matches) whose data has no chunk digest is refused. Without it the forged blob
 * opens and reads, which is why such layers are not mounted lazily unless
 * `allowUnverifiedLayers` (snapshotter/fused-layers.ts).
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readChunk } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import { MalformedEstargzError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { bufferReader, buildBlob, type SynthFile } from './make-blob.js';

const big = Buffer.alloc(300_000, 'x');
const files = (hostname: string): SynthFile[] => [
  { name: 'etc/hostname', data: Buffer.from(hostname) },
  { name: 'data/big.bin', data: big, chunkSize: 100_000 },
];
const genuine = buildBlob(files('genuine-host\n'));
const forged = buildBlob(files('forged--host\n'));

async function hostnameOf(blob: Buffer, expectedTocDigest?: string): Promise<string> {
  const { index } = await openLayer(bufferReader(blob), expectedTocDigest === undefined ? {} : { expectedTocDigest });
  const c = index.lookup('etc/hostname')!.chunks[0]!;
  return (await readChunk(blob.subarray(c.offset, c.offset + c.compressedSize), c)).toString();
}

describe('a swapped blob against the TOC digest', () => {
  it('a blob rebuilt with its own consistent TOC does not open against the genuine TOC digest', async () => {
    expect(await hostnameOf(genuine.blob, genuine.tocDigest)).toBe('genuine-host\n');
    await expect(openLayer(bufferReader(forged.blob), { expectedTocDigest: genuine.tocDigest })).rejects.toThrow(VerificationError);
    // Without the digest nothing tells them apart: what an unverified lazy layer would serve.
    expect(await hostnameOf(forged.blob)).toBe('forged--host\n');
  });

  it('the genuine TOC in front of swapped data: every swapped chunk is refused, never returned', async () => {
    const { index } = await openLayer(bufferReader(genuine.blob), { expectedTocDigest: genuine.tocDigest });
    const chunks = [index.lookup('etc/hostname')!.chunks[0]!, ...index.lookup('data/big.bin')!.chunks];
    expect(chunks).toHaveLength(4);
    for (const c of chunks) {
      const good = await readChunk(genuine.blob.subarray(c.offset, c.offset + c.compressedSize), c);
      const other = Buffer.from(good);
      other[0]! ^= 0x20; // same length, one byte different
      await expect(readChunk(gzipSync(other), c)).rejects.toThrow(VerificationError);
    }
  });

  it('a TOC whose data has no chunk digest is refused even when the annotation matches it', async () => {
    const noDigest = buildBlob(files('genuine-host\n'), {
      mutateToc: (toc) => {
        const chunk = toc.entries.find((e) => e.type === 'chunk')!;
        delete chunk.chunkDigest;
      },
    });
    await expect(openLayer(bufferReader(noDigest.blob), { expectedTocDigest: noDigest.tocDigest })).rejects.toThrow(MalformedEstargzError);
    await expect(openLayer(bufferReader(noDigest.blob), { expectedTocDigest: noDigest.tocDigest })).rejects.toThrow(/cannot be verified/);
  });
});
