import { describe, expect, it } from 'vitest';
import { inflationBytes, readChunks } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import { codecOf } from '../../../../../backends/stargz-lazy/estargz/chunk-codec.js';
import { EstargzLimitError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { DEFAULT_LIMITS } from '../../../../../backends/stargz-lazy/estargz/limits.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import type { ChunkRef } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { bufferReader } from './make-blob.js';
import { buildZstdBlob } from './make-zstd-blob.js';

const big = Buffer.alloc(250_000);
for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
const files = [
  { name: 'a', data: Buffer.from('alpha\n') },
  { name: 'b', data: Buffer.from('bravo bravo\n') },
  { name: 'c', data: Buffer.from('charlie\n') },
  { name: 'big', data: big, chunkSize: 100_000 },
];

async function opened(corruptAt?: (blob: Buffer, chunks: ChunkRef[]) => number) {
  const built = buildZstdBlob(files, { pack: true });
  const layer = await openLayer(bufferReader(built.blob), { expectedTocDigest: built.tocDigest });
  const chunksOf = (name: string) => {
    const node = layer.index.lookup(name)!;
    return layer.index.chunksFor(node, 0, node.size);
  };
  const blob = Buffer.from(built.blob);
  if (corruptAt) blob[corruptAt(blob, chunksOf('big'))]! ^= 0xff;
  const bytesAt = (c: ChunkRef) => blob.subarray(c.offset, c.offset + c.compressedSize);
  return { chunksOf, bytesAt };
}

describe('chunk reads of zstd:chunked layers', () => {
  it('picks the codec by format', () => {
    expect(codecOf('zstd:chunked').member).toBe('zstd frame');
    expect(codecOf('estargz').member).toBe('gzip member');
    expect(codecOf(undefined).member).toBe('gzip member');
  });

  it('reads packed members (innerOffset) and the chunks of a large file, verified', async () => {
    const { chunksOf, bytesAt } = await opened();
    const packed = [...chunksOf('a'), ...chunksOf('b'), ...chunksOf('c')];
    expect(new Set(packed.map((c) => c.offset)).size).toBe(1);
    const data = await readChunks(bytesAt(packed[0]!), packed, { format: 'zstd:chunked' });
    expect(data.map((d) => d.toString())).toEqual(['alpha\n', 'bravo bravo\n', 'charlie\n']);
    // Only b (a partial window of the member).
    const [b] = await readChunks(bytesAt(packed[1]!), [packed[1]!], { format: 'zstd:chunked' });
    expect(b!.toString()).toBe('bravo bravo\n');
    const parts = chunksOf('big');
    expect(parts).toHaveLength(3);
    const got = await Promise.all(parts.map((c) => readChunks(bytesAt(c), [c], { format: 'zstd:chunked' }).then(([d]) => d!)));
    expect(Buffer.concat(got)).toEqual(big);
  });

  it('a corrupt frame is a VerificationError naming the chunk; read as gzip it is one too', async () => {
    const { chunksOf, bytesAt } = await opened((_blob, chunks) => chunks[1]!.offset + Math.floor(chunks[1]!.compressedSize / 2));
    const c = chunksOf('big')[1]!;
    const err = await readChunks(bytesAt(c), [c], { format: 'zstd:chunked', path: 'big' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as Error).message).toContain('big@100000');
    const good = await opened();
    const c0 = good.chunksOf('big')[0]!;
    await expect(readChunks(good.bytesAt(c0), [c0], {})).rejects.toThrow(/gzip member/);
  });

  it('uses the zstd ratio cap, not deflate one', async () => {
    const { chunksOf, bytesAt } = await opened();
    const c = chunksOf('big')[0]!;
    const lying = { ...c, compressedSize: 1, chunkSize: 100_000 };
    const err = await readChunks(bytesAt(c).subarray(0, 1), [lying], { format: 'zstd:chunked', limits: { maxZstdInflateRatio: 10 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EstargzLimitError);
    expect((err as EstargzLimitError).limit).toBe('maxZstdInflateRatio');
    expect(DEFAULT_LIMITS.maxZstdInflateRatio).toBeGreaterThan(DEFAULT_LIMITS.maxInflateRatio);
  });

  it('charges the inflation budget for the decoder window too', () => {
    const c = { offset: 0, innerOffset: 0, chunkOffset: 0, chunkSize: 4 << 20, compressedSize: 1000, chunkDigest: 'sha256:x' } as ChunkRef;
    expect(inflationBytes([c], 'zstd:chunked')).toBeGreaterThan(inflationBytes([c], 'estargz'));
    expect(inflationBytes([c], 'zstd:chunked')).toBeLessThanOrEqual((4 << 20) + 2 * (4 << 20) + (2 << 20));
  });
});
