/**
 * RemoteLayer reads against a node:http range server on 127.0.0.1 whose answers a test can
 * tamper with, slow down or cut: one request per read, the cache in front, verification
 * before anything is served or cached, one fetch per chunk for concurrent readers.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { InvalidArgumentError, UnavailableError } from '../../../../../core/sdk.js';
import { closedPort } from '../registry/servers/listen.js';
import { testData } from '../registry/servers/test-client.js';
import { sha256 } from '../estargz/make-blob.js';
import {
  clientFor,
  flipped,
  packedBlob,
  prioritizedBlob,
  removeTemps,
  startSwitchableServer,
  tempCache,
  type SwitchableServer,
} from './layer-env.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await removeTemps();
});

async function setup(blob: Buffer, memoryBytes = 0) {
  const server = await startSwitchableServer(blob);
  cleanup.push(() => server.close());
  const t = clientFor(server, sha256(blob));
  cleanup.push(() => t.client.close());
  const c = await tempCache(memoryBytes);
  const layer = await RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log, regionBytes: 0 });
  return { server, t, c, layer };
}

/** Offset in the blob of the first gzip member of file `name`. */
function memberOf(layer: RemoteLayer, name: string, chunk = 0): { offset: number; size: number } {
  const c = layer.index.lookup(name)!.chunks[chunk]!;
  return { offset: c.offset, size: c.compressedSize };
}

describe('RemoteLayer.read', () => {
  it('reads a range spanning several chunks with ONE request, exactly the bytes asked, clamped at EOF', async () => {
    const b = prioritizedBlob();
    const { server, layer } = await setup(b.blob);
    const big = layer.index.lookup('data/big')!;
    expect(big.chunks).toHaveLength(5);
    const gets = server.gets();
    const got = await layer.read(big, 3000, 10_000);
    expect(got.equals(b.files['data/big'].subarray(3000, 13_000))).toBe(true);
    expect(server.gets() - gets).toBe(1);
    // Chunks 0-3 were contiguous members: one merged range.
    expect(server.requests.at(-1)!.ranges).toHaveLength(1);
    const tail = await layer.read(big, 19_990, 4096);
    expect(tail.equals(b.files['data/big'].subarray(19_990))).toBe(true);
    expect((await layer.read(big, 20_000, 10)).length).toBe(0);
    expect((await layer.read(big, 50_000, 10)).length).toBe(0);
    expect((await layer.read(big, 5, 0)).length).toBe(0);
  });

  it('serves the second read from the cache: no request', async () => {
    const b = prioritizedBlob();
    const { server, layer, c } = await setup(b.blob, 1 << 20);
    const node = layer.index.lookup('data/other')!;
    expect((await layer.read(node, 0, 3000)).equals(b.files['data/other'])).toBe(true);
    const gets = server.gets();
    expect((await layer.read(node, 100, 200)).equals(b.files['data/other'].subarray(100, 300))).toBe(true);
    expect(server.gets()).toBe(gets);
    expect(c.cache.stats().memoryHits).toBeGreaterThan(0);
  });

  it('detects a cache file corrupted on disk, refetches it and serves the right bytes', async () => {
    const b = prioritizedBlob();
    const { server, layer, c } = await setup(b.blob, 0);
    const node = layer.index.lookup('data/other')!;
    await layer.read(node, 0, 3000);
    await c.cache.flush();
    const d = node.chunks[0]!.chunkDigest;
    const file = join(c.dir, d.slice(7, 9), d.slice(7));
    const bad = Buffer.from(b.files['data/other']);
    bad[1234] = bad[1234]! ^ 0x20;
    await writeFile(file, bad);
    const gets = server.gets();
    expect((await layer.read(node, 0, 3000)).equals(b.files['data/other'])).toBe(true);
    expect(server.gets() - gets).toBe(1);
    expect(c.cache.stats().corrupt).toBe(1);
    expect(c.lines.some((l) => l.msg.includes('does not match its digest'))).toBe(true);
  });

  it('a flipped byte from the server: VerificationError for that file, other files fine, nothing cached; clean data again reads', async () => {
    const b = prioritizedBlob();
    const { server, layer, c } = await setup(b.blob, 1 << 20);
    const other = layer.index.lookup('data/other')!;
    const small = layer.index.lookup('data/small')!;
    const m = memberOf(layer, 'data/other');
    server.content = flipped(b.blob, m.offset + Math.floor(m.size / 2));
    const err = await layer.read(other, 0, 3000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).code).toBe('UNAVAILABLE');
    expect((err as Error).message).toContain('data/other');
    expect(c.lines.some((l) => l.msg === 'chunk failed verification; not served, not cached' && l.level === 40)).toBe(true);
    // Reading it in the same request as a good file: the good one is still served.
    expect((await layer.read(small, 0, 100)).equals(b.files['data/small'])).toBe(true);
    await c.cache.flush();
    expect(await c.cache.has(other.chunks[0]!.chunkDigest)).toBe(false);
    // Still bad: still refused, fetched again (nothing bad was kept).
    const gets = server.gets();
    await expect(layer.read(other, 10, 10)).rejects.toThrow(VerificationError);
    expect(server.gets() - gets).toBe(1);
    // The registry serves clean data again.
    server.content = b.blob;
    expect((await layer.read(other, 0, 3000)).equals(b.files['data/other'])).toBe(true);
  });

  it('a flipped byte in a gzip header (data that cannot even inflate) is a VerificationError too', async () => {
    const b = prioritizedBlob();
    const { server, layer } = await setup(b.blob);
    const m = memberOf(layer, 'data/big', 2);
    server.content = flipped(b.blob, m.offset);
    const big = layer.index.lookup('data/big')!;
    await expect(layer.read(big, 2 * 4096, 10)).rejects.toThrow(VerificationError);
    // Chunk 0 of the same file is fine.
    expect((await layer.read(big, 0, 4096)).equals(b.files['data/big'].subarray(0, 4096))).toBe(true);
  });

  it('concurrent reads of the same chunk make one fetch', async () => {
    const b = prioritizedBlob();
    const { server, layer } = await setup(b.blob, 0);
    server.delayMs = 150;
    const big = layer.index.lookup('data/big')!;
    const gets = server.gets();
    const reads = Array.from({ length: 12 }, (_, i) => layer.read(big, 4096 + i * 100, 300));
    const out = await Promise.all(reads);
    out.forEach((buf, i) => expect(buf.equals(b.files['data/big'].subarray(4096 + i * 100, 4096 + i * 100 + 300))).toBe(true));
    expect(server.gets() - gets).toBe(1);
  });

  it('a reader that joined a fetch survives the abort of the read that started it', async () => {
    const b = prioritizedBlob();
    const { server, layer } = await setup(b.blob, 0);
    server.delayMs = 200;
    const node = layer.index.lookup('data/other')!;
    const owner = new AbortController();
    const first = layer.read(node, 0, 10, owner.signal);
    await new Promise((r) => setTimeout(r, 20));
    const second = layer.read(node, 0, 3000);
    owner.abort(new Error('reader went away'));
    await expect(first).rejects.toThrow('reader went away');
    expect((await second).equals(b.files['data/other'])).toBe(true);
  });

  it('reads chunks that share one gzip member: one range for the member, the chunks before the wanted one cached with it', async () => {
    const p = packedBlob();
    const { server, layer, c } = await setup(p.blob);
    const gets = server.gets();
    expect((await layer.read(layer.index.lookup('c')!, 0, 100)).equals(p.files.c)).toBe(true);
    expect(server.gets() - gets).toBe(1);
    expect(server.requests.at(-1)!.ranges).toHaveLength(1);
    // a and b were inflated on the way to c: verified and cached, no request.
    expect((await layer.read(layer.index.lookup('a')!, 0, 100)).equals(p.files.a)).toBe(true);
    expect((await layer.read(layer.index.lookup('b')!, 0, 10_000)).equals(p.files.b)).toBe(true);
    expect(server.gets() - gets).toBe(1);
    expect((await layer.read(layer.index.lookup('d')!, 2, 3)).equals(p.files.d.subarray(2, 5))).toBe(true);
    expect(server.gets() - gets).toBe(2);
    // A bad byte in the packed member: none of its files is served, the other member is.
    const c2 = await setup(p.blob);
    c2.server.content = flipped(p.blob, c2.layer.index.lookup('a')!.chunks[0]!.offset + 10); // the first deflate byte
    await expect(c2.layer.read(c2.layer.index.lookup('a')!, 0, 100)).rejects.toThrow(VerificationError);
    await expect(c2.layer.read(c2.layer.index.lookup('c')!, 0, 100)).rejects.toThrow(VerificationError);
    expect((await c2.layer.read(c2.layer.index.lookup('d')!, 0, 100)).equals(p.files.d)).toBe(true);
    void c;
  });

  it('fails with UnavailableError naming the blob when the registry is gone, and reads again when it is back', async () => {
    const b = prioritizedBlob();
    const { server, layer, t } = await setup(b.blob);
    const node = layer.index.lookup('data/small')!;
    server.content = Buffer.alloc(0);
    await server.close();
    const err = await layer.read(node, 0, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).not.toBeInstanceOf(VerificationError);
    expect((err as Error).message).toContain(sha256(b.blob));
    // The same port serves again.
    const port = Number(server.host.split(':')[1]);
    const { createServer } = await import('node:http');
    const { serveBlob } = await import('../registry/servers/blob-server.js');
    const again = createServer((req, res) => serveBlob(req, res, b.blob));
    await new Promise<void>((resolve) => again.listen(port, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => { again.closeAllConnections(); again.close(() => resolve()); }));
    expect((await layer.read(node, 0, 100)).equals(b.files['data/small'])).toBe(true);
    void t;
  });

  it('refuses nodes of another layer, directories and bad ranges', async () => {
    const b = prioritizedBlob();
    const { layer } = await setup(b.blob);
    const p = packedBlob();
    const { layer: otherLayer } = await setup(p.blob);
    await expect(layer.read(otherLayer.index.lookup('a')!, 0, 1)).rejects.toThrow(InvalidArgumentError);
    await expect(layer.read(layer.index.lookup('data')!, 0, 1)).rejects.toThrow(/not a regular file/);
    await expect(layer.read(layer.index.lookup('data/small')!, -1, 1)).rejects.toThrow(InvalidArgumentError);
    await expect(layer.read(layer.index.lookup('data/small')!, 0, 1.5)).rejects.toThrow(InvalidArgumentError);
  });
});

describe('RemoteLayer.open', () => {
  it('refuses a TOC that does not match the expected digest', async () => {
    const b = prioritizedBlob();
    const server = await startSwitchableServer(b.blob);
    cleanup.push(() => server.close());
    const t = clientFor(server, sha256(b.blob));
    cleanup.push(() => t.client.close());
    const c = await tempCache();
    const wrong = sha256(Buffer.from('another toc'));
    const err = await RemoteLayer.open({ blob: t.reader(), expectedTocDigest: wrong, cache: c.cache, log: c.log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).expected).toBe(wrong);
    const ok = await RemoteLayer.open({ blob: t.reader(), expectedTocDigest: b.tocDigest, cache: c.cache, log: c.log });
    expect(ok.tocDigest).toBe(b.tocDigest);
  });

  it('tells a plain gzip layer apart (NotEstargzError) and a dead registry (UnavailableError)', async () => {
    const { gzipSync } = await import('node:zlib');
    const plain = gzipSync(testData(5000, 3));
    const server = await startSwitchableServer(plain);
    cleanup.push(() => server.close());
    const t = clientFor(server, sha256(plain));
    cleanup.push(() => t.client.close());
    const c = await tempCache();
    await expect(RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log })).rejects.toMatchObject({ name: 'NotEstargzError' });
    const dead = clientFor({ host: `127.0.0.1:${await closedPort()}` }, sha256(plain));
    cleanup.push(() => dead.client.close());
    await expect(RemoteLayer.open({ blob: dead.reader(), cache: c.cache, log: c.log })).rejects.toThrow(UnavailableError);
  });
});

describe('RemoteLayer.readCached', () => {
  it('copies into the target only when every chunk is held in memory, with no request; otherwise copies nothing', async () => {
    const b = prioritizedBlob();
    const { server, layer } = await setup(b.blob, 1 << 20);
    const big = layer.index.lookup('data/big')!;
    const target = Buffer.alloc(10_000, 0xee);
    expect(layer.readCached(big, 3000, 10_000, target)).toBeUndefined();
    expect(target.every((x) => x === 0xee)).toBe(true);
    // Brings the first two 4 KiB chunks only: ending before the middle of the second one, it starts
    // no read-ahead of the third in the background (which raced the request count below).
    await layer.read(big, 0, 6000);
    const gets = server.gets();
    expect(layer.readCached(big, 3000, 10_000, target)).toBeUndefined(); // the range needs more chunks
    await layer.read(big, 0, big.size);
    expect(layer.readCached(big, 3000, 10_000, target)).toBe(10_000);
    expect(target.equals(b.files['data/big'].subarray(3000, 13_000))).toBe(true);
    // Clamped at the end of the file; past it, nothing.
    expect(layer.readCached(big, big.size - 10, 4096, target)).toBe(10);
    expect(target.subarray(0, 10).equals(b.files['data/big'].subarray(big.size - 10))).toBe(true);
    expect(layer.readCached(big, big.size, 4096, target)).toBe(0);
    expect(server.gets() - gets).toBe(1); // only the full read above fetched
  });

  it('answers undefined for a node of another layer', async () => {
    const b = prioritizedBlob();
    const { layer } = await setup(b.blob, 1 << 20);
    const other = await setup(b.blob, 1 << 20);
    const node = other.layer.index.lookup('data/big')!;
    await other.layer.read(node, 0, node.size);
    expect(layer.readCached(node, 0, 10, Buffer.alloc(10))).toBeUndefined();
  });
});
