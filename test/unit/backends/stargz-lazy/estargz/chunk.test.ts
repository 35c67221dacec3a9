import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inflationBytes, readChunk, readChunks, verifyChunk } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import { EstargzLimitError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import type { ChunkRef } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { bufferReader, loadFixture, sha256 } from './make-blob.js';

const extent = (blob: Buffer, c: ChunkRef) => blob.subarray(c.offset, c.offset + c.compressedSize);

async function fixtureLayer(name: 'full' | 'plain') {
  const fixture = loadFixture(name);
  const { index } = await openLayer(bufferReader(fixture.blob), { expectedTocDigest: fixture.expected.tocDigest });
  return { ...fixture, index };
}

describe('readChunk', () => {
  it('reads every regular file of the upstream fixtures byte for byte', async () => {
    for (const name of ['full', 'plain'] as const) {
      const { blob, expected, index } = await fixtureLayer(name);
      let files = 0;
      for (const e of expected.entries.filter((x) => x.type === 'reg' && !x.name.includes('.wh.'))) {
        const node = index.lookup(e.name)!;
        const parts = await Promise.all(node.chunks.map((c) => readChunk(extent(blob, c), c, { path: node.path })));
        const content = Buffer.concat(parts);
        expect(content.length, e.name).toBe(e.size);
        expect(sha256(content), e.name).toBe(e.sha256);
        if (node.digest) expect(sha256(content)).toBe(node.digest);
        files++;
      }
      expect(files).toBeGreaterThan(2);
    }
  });

  it('serves a byte range from the chunks chunksFor names', async () => {
    const { blob, index } = await fixtureLayer('full');
    const big = index.lookup('data/big.bin')!;
    const whole = Buffer.concat(await Promise.all(big.chunks.map((c) => readChunk(extent(blob, c), c))));
    const [off, len] = [4000, 5000];
    const chunks = index.chunksFor(big, off, len);
    const data = Buffer.concat(await Promise.all(chunks.map((c) => readChunk(extent(blob, c), c))));
    const start = off - chunks[0]!.chunkOffset;
    expect(data.subarray(start, start + len)).toEqual(whole.subarray(off, off + len));
  });

  it('never returns a wrong byte when one byte of a chunk is flipped', async () => {
    const { blob, index } = await fixtureLayer('full');
    const targets = [index.lookup('data/small.txt')!.chunks[0]!, index.lookup('data/big.bin')!.chunks[2]!];
    for (const c of targets) {
      const good = await readChunk(extent(blob, c), c);
      let refused = 0;
      const step = Math.max(1, Math.floor(c.compressedSize / 300));
      for (let i = 0; i < c.compressedSize; i += step) {
        const bad = Buffer.from(extent(blob, c));
        bad[i]! ^= 0x01;
        const result = await readChunk(bad, c).then(
          (data) => data,
          (err: unknown) => err,
        );
        if (result instanceof Buffer) {
          // Only bytes that do not change the data (gzip header fields, trailer) may pass.
          expect(result.equals(good), `flip at ${i}`).toBe(true);
        } else {
          expect(result, `flip at ${i}`).toBeInstanceOf(VerificationError);
          refused++;
        }
      }
      // The member also holds later tar headers; flips there leave the chunk intact.
      expect(refused).toBeGreaterThan(20);
    }
  });

  it('reports the expected and actual digest on a mismatch', async () => {
    const data = Buffer.from('the served bytes');
    const c: ChunkRef = {
      offset: 0,
      compressedSize: 0,
      innerOffset: 0,
      chunkOffset: 0,
      chunkSize: data.length,
      chunkDigest: sha256(Buffer.from('the expected bytes')),
    };
    const err = await readChunk(gzipSync(data), c, { path: 'etc/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE', expected: c.chunkDigest, actual: sha256(data) });
    expect((err as Error).message).toMatch(/^chunk etc\/x@0\+16/);
  });

  it('refuses truncated and non-gzip data, and accepts a long enough prefix or trailing bytes', async () => {
    const { blob, index } = await fixtureLayer('full');
    const c = index.lookup('data/big.bin')!.chunks[1]!;
    const member = extent(blob, c);
    await expect(readChunk(member.subarray(0, member.length >> 1), c)).rejects.toThrow(VerificationError);
    await expect(readChunk(member.subarray(0, 5), c)).rejects.toThrow(VerificationError);
    await expect(readChunk(Buffer.from('plain text'), c)).rejects.toThrow(/cannot decompress its gzip member/);
    await expect(readChunk(Buffer.alloc(0), c)).rejects.toThrow(VerificationError);
    const good = await readChunk(member, c);
    await expect(readChunk(Buffer.concat([member, Buffer.from('junk after the member')]), c)).resolves.toEqual(good);
    // The trailer (CRC, size) is not needed: the digest covers the data.
    await expect(readChunk(member.subarray(0, member.length - 8), c)).resolves.toEqual(good);
  });

  it('reads several chunks sharing one gzip member (innerOffset)', async () => {
    const a = Buffer.from('first file');
    const b = Buffer.from('second, longer file');
    const stream = Buffer.concat([Buffer.alloc(512, 1), a, Buffer.alloc(512 - a.length, 0), Buffer.alloc(512, 2), b]);
    const member = gzipSync(stream);
    const ref = (innerOffset: number, data: Buffer): ChunkRef => ({
      offset: 100,
      compressedSize: member.length,
      innerOffset,
      chunkOffset: 0,
      chunkSize: data.length,
      chunkDigest: sha256(data),
    });
    const ra = ref(512, a);
    const rb = ref(1536, b);
    expect(await readChunks(member, [rb, ra])).toEqual([b, a]);
    expect(await readChunk(member, rb)).toEqual(b);
    expect(await readChunks(member, [])).toEqual([]);
    await expect(readChunks(member, [ra, { ...rb, offset: 101 }])).rejects.toThrow(InvalidArgumentError);
    await expect(readChunks(member, [ra, { ...rb, chunkDigest: sha256(a) }])).rejects.toThrow(VerificationError);
  });

  it('hands each chunk of a shared member over in a buffer of its own, and charges each one', async () => {
    const files = [Buffer.alloc(300_000, 1), Buffer.from('tiny'), Buffer.alloc(70_000, 2)];
    const member = gzipSync(Buffer.concat(files.flatMap((f) => [f, Buffer.alloc(1024)])));
    let inner = 0;
    const refs = files.map((f) => {
      const r: ChunkRef = { offset: 0, compressedSize: member.length, innerOffset: inner, chunkOffset: 0, chunkSize: f.length, chunkDigest: sha256(f) };
      inner += f.length + 1024;
      return r;
    });
    const out = await readChunks(member, refs);
    expect(out).toEqual(files);
    // No chunk pins the member's window or a shared slab: its memory is (nearly) its own size.
    for (const b of out) expect(b.buffer.byteLength).toBeLessThanOrEqual(b.length + b.length / 16);
    // Overlapping chunks (a hostile TOC) each get their bytes, and each is charged.
    const twice = [refs[0]!, { ...refs[0]!, chunkOffset: 1 }];
    expect(await readChunks(member, twice)).toEqual([files[0], files[0]]);
    expect(inflationBytes(twice)).toBeGreaterThanOrEqual(2 * files[0]!.length);
  });

  it('caps inflated and compressed sizes', async () => {
    const data = Buffer.alloc(5000, 3);
    const c: ChunkRef = { offset: 0, compressedSize: 0, innerOffset: 0, chunkOffset: 0, chunkSize: 5000, chunkDigest: sha256(data) };
    await expect(readChunk(gzipSync(data), c, { limits: { maxChunkBytes: 4096 } })).rejects.toThrow(EstargzLimitError);
    await expect(readChunk(gzipSync(data), c, { limits: { maxChunkCompressedBytes: 10 } })).rejects.toMatchObject({
      limit: 'maxChunkCompressedBytes',
    });
    await expect(readChunk(gzipSync(data), c, { limits: { maxChunkBytes: 0 } })).rejects.toThrow(InvalidArgumentError);
    expect(await readChunk(gzipSync(data), c)).toEqual(data);
  });
});

describe('verifyChunk', () => {
  it('checks length and digest', () => {
    const data = Buffer.from('abc');
    const c: ChunkRef = { offset: 0, compressedSize: 1, innerOffset: 0, chunkOffset: 0, chunkSize: 3, chunkDigest: sha256(data) };
    expect(() => verifyChunk(data, c)).not.toThrow();
    expect(() => verifyChunk(Buffer.from('abd'), c)).toThrow(VerificationError);
    expect(() => verifyChunk(Buffer.from('ab'), c)).toThrow(/has 2 bytes, want 3/);
  });
});

describe('readChunk on gzip bombs and inflation ratios', () => {
  const MiB = 1024 * 1024;
  const LAYER = `sha256:${'ab'.repeat(32)}`;

  it('refuses a 64 MiB bomb in a chunk declared as 1 MiB without inflating past the declared size, naming layer and file', async () => {
    const whole = Buffer.alloc(64 * MiB, 0x62);
    const bomb = gzipSync(whole);
    const c: ChunkRef = { offset: 4096, compressedSize: bomb.length, innerOffset: 0, chunkOffset: 0, chunkSize: MiB, chunkDigest: sha256(whole) };
    const stats = { inflatedBytes: 0 };
    const longName = `dir/${'x'.repeat(5000)}`;
    const err = (await readChunk(bomb, c, { layer: LAYER, path: longName, stats }).catch((e: unknown) => e)) as VerificationError;
    expect(err).toBeInstanceOf(VerificationError);
    expect(err.message).toContain(`of layer ${LAYER}`);
    expect(err.message).toContain('dir/xxxx');
    expect(err.message).toContain('(5004 chars)');
    expect(err.message.length).toBeLessThan(600);
    expect(stats.inflatedBytes).toBeLessThanOrEqual(MiB + 256 * 1024);
    // What it costs: the window plus the inflater's scratch, a few MiB, not 64.
    expect(inflationBytes([c])).toBeLessThanOrEqual(MiB + 4 * MiB);
  });

  it('serves a zero-filled file at the default ratio cap and refuses a lower cap or an impossible ratio before inflating', async () => {
    const zeros = Buffer.alloc(16 * MiB);
    const member = gzipSync(zeros); // ~1028:1
    const c: ChunkRef = { offset: 0, compressedSize: member.length, innerOffset: 0, chunkOffset: 0, chunkSize: zeros.length, chunkDigest: sha256(zeros) };
    expect(zeros.length / member.length).toBeGreaterThan(1000);
    expect((await readChunk(member, c)).equals(zeros)).toBe(true);

    const stats = { inflatedBytes: 0 };
    const lower = await readChunk(member, c, { limits: { maxInflateRatio: 100 }, layer: LAYER, path: 'var/zeros', stats }).catch((e: unknown) => e);
    expect(lower).toBeInstanceOf(EstargzLimitError);
    expect(lower).toMatchObject({ limit: 'maxInflateRatio', max: 100 });
    expect((lower as Error).message).toMatch(/var\/zeros.*of layer sha256:abab.*ratio is 10\d\d(\.\d)?, above the limit maxInflateRatio=100/);
    expect(stats.inflatedBytes).toBe(0);

    // 64 MiB declared from a 1 KiB member: no deflate stream holds that.
    const tiny = gzipSync(Buffer.alloc(1000, 7));
    const liar: ChunkRef = { offset: 0, compressedSize: 1024, innerOffset: 0, chunkOffset: 0, chunkSize: 64 * MiB, chunkDigest: sha256(zeros) };
    await expect(readChunk(tiny, liar, { stats })).rejects.toMatchObject({ limit: 'maxInflateRatio' });
    expect(stats.inflatedBytes).toBe(0);
  });
});
