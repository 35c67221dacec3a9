/**
 * Region reads: a read that fetches a small gzip member also fetches, verifies and caches the
 * other members of its aligned 64 KiB region of the blob, from a real node:http range server on
 * 127.0.0.1 that counts GETs and their ranges. Neighbours of a region then read with no request;
 * a tampered neighbour is not cached and fails its own read; large members are fetched alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { MAX_NEIGHBOUR_INFLATED_BYTES, MAX_NEIGHBOUR_MEMBERS, MAX_REGION_BYTES, REGION_BYTES } from '../../../../../backends/stargz-lazy/layer/region-neighbours.js';
import { testData } from '../registry/servers/test-client.js';
import { buildBlob, sha256 } from '../estargz/make-blob.js';
import { clientFor, flipped, removeTemps, startSwitchableServer, tempCache } from './layer-env.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await removeTemps();
});

/** 400 small incompressible files (200..599 bytes, ~150 per region), then a 300 KB file in 100 KB chunks, then 20 more small files. */
function manySmallFiles(): { blob: Buffer; files: Map<string, Buffer> } {
  const files = new Map<string, Buffer>();
  const list: { name: string; data: Buffer; chunkSize?: number }[] = [];
  for (let i = 0; i < 400; i++) list.push({ name: `small/f${i}`, data: testData(200 + ((i * 37) % 400), 1000 + i) });
  list.push({ name: 'big/file', data: testData(300_000, 7), chunkSize: 100_000 });
  for (let i = 0; i < 20; i++) list.push({ name: `tail/t${i}`, data: testData(300, 5000 + i) });
  for (const f of list) files.set(f.name, f.data);
  return { blob: buildBlob(list).blob, files };
}

async function setup(blob: Buffer, memoryBytes = 1 << 20, regionBytes?: number) {
  const server = await startSwitchableServer(blob);
  cleanup.push(() => server.close());
  const t = clientFor(server, sha256(blob));
  cleanup.push(() => t.client.close());
  const c = await tempCache(memoryBytes);
  // Chunk writes still running must end before the temp dirs go.
  cleanup.push(() => c.cache.flush());
  const layer = await RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log, regionBytes });
  return { server, t, c, layer };
}

/** Names of the files whose (single) small member starts in the region of `name`'s member. */
function regionMates(layer: RemoteLayer, files: Map<string, Buffer>, name: string): string[] {
  const start = Math.floor(layer.index.lookup(name)!.chunks[0]!.offset / REGION_BYTES) * REGION_BYTES;
  return [...files.keys()].filter((n) => {
    if (n === name) return false;
    const chunks = layer.index.lookup(n)!.chunks;
    return chunks.length === 1 && chunks[0]!.compressedSize < REGION_BYTES && chunks[0]!.offset >= start && chunks[0]!.offset < start + REGION_BYTES;
  });
}

describe('RemoteLayer region reads', () => {
  it('reading one small file fetches its region in one GET; its neighbours then read with no request', async () => {
    const { blob, files } = manySmallFiles();
    const { server, c, layer } = await setup(blob);
    const name = 'small/f200';
    const mates = regionMates(layer, files, name);
    expect(mates.length).toBeGreaterThan(50);
    expect(mates.length).toBeLessThan(MAX_NEIGHBOUR_MEMBERS);

    const gets = server.gets();
    const got = await layer.read(layer.index.lookup(name)!, 0, 4096);
    expect(got.equals(files.get(name)!)).toBe(true);
    expect(server.gets() - gets).toBe(1);
    // One merged span: the aligned region, up to the end of the last member starting in it.
    const ranges = server.requests.at(-1)!.ranges!;
    expect(ranges).toHaveLength(1);
    const start = Math.floor(layer.index.lookup(name)!.chunks[0]!.offset / REGION_BYTES) * REGION_BYTES;
    const lastEnd = Math.max(...[name, ...mates].map((n) => layer.index.lookup(n)!.chunks[0]!).map((m) => m.offset + m.compressedSize));
    expect(lastEnd).toBeGreaterThan(start + REGION_BYTES); // a member straddles the region's end
    expect(ranges[0]![0]).toBeGreaterThanOrEqual(start);
    expect(ranges[0]![1]).toBe(lastEnd - 1);

    for (const mate of mates) {
      const node = layer.index.lookup(mate)!;
      expect(c.cache.has(node.chunks[0]!.chunkDigest), mate).toBe(true);
      const data = await layer.read(node, 0, 4096);
      expect(data.equals(files.get(mate)!), mate).toBe(true);
    }
    expect(server.gets() - gets).toBe(1);
    // The fast path too: the neighbours went to the memory cache.
    const mate = layer.index.lookup(mates[0]!)!;
    const target = Buffer.alloc(4096);
    expect(layer.readCached(mate, 0, 4096, target)).toBe(files.get(mates[0]!)!.length);
  });

  it('a cold walk of every file costs about one GET per region, not one per file', async () => {
    const { blob, files } = manySmallFiles();
    const { server, layer } = await setup(blob);
    const gets = server.gets();
    for (const [name, data] of files) {
      expect((await layer.read(layer.index.lookup(name)!, 0, data.length)).equals(data), name).toBe(true);
    }
    const requests = server.gets() - gets;
    // 420 small files and 3 large chunks over ~6 regions: one GET per region (a member across a
    // region's end comes with the region it starts in), one per large chunk.
    expect(requests).toBeLessThanOrEqual(Math.ceil(blob.length / REGION_BYTES) + 3);
  });

  it('a tampered neighbour is not cached and fails its own read; the file read first is served', async () => {
    const { blob, files } = manySmallFiles();
    const { server, c, layer } = await setup(blob);
    const name = 'small/f200';
    const mates = regionMates(layer, files, name);
    const bad = layer.index.lookup(mates[3]!)!;
    const m = bad.chunks[0]!;
    server.content = flipped(blob, m.offset + Math.floor(m.compressedSize / 2));

    const gets = server.gets();
    expect((await layer.read(layer.index.lookup(name)!, 0, 4096)).equals(files.get(name)!)).toBe(true);
    expect(server.gets() - gets).toBe(1);
    await c.cache.flush();
    expect(c.cache.has(m.chunkDigest)).toBe(false);
    expect(c.lines.some((l) => l.msg === 'chunk failed verification; not served, not cached' && String(JSON.stringify(l.err)).includes(bad.path))).toBe(true);
    // The other neighbours were verified one by one and cached.
    const good = layer.index.lookup(mates[4]!)!;
    expect(c.cache.has(good.chunks[0]!.chunkDigest)).toBe(true);
    expect((await layer.read(good, 0, 4096)).equals(files.get(mates[4]!)!)).toBe(true);
    expect(server.gets() - gets).toBe(1);

    // The bad one's own read goes to the registry, which still serves bad bytes: refused.
    const err = await layer.read(bad, 0, 4096).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as Error).message).toContain(bad.path);
    expect(server.gets() - gets).toBe(2);
    // Clean again: it reads.
    server.content = blob;
    expect((await layer.read(bad, 0, 4096)).equals(files.get(bad.path)!)).toBe(true);
  });

  it('a large member is fetched alone, with no neighbours', async () => {
    const { blob, files } = manySmallFiles();
    const { server, c, layer } = await setup(blob);
    const big = layer.index.lookup('big/file')!;
    expect(big.chunks[1]!.compressedSize).toBeGreaterThan(REGION_BYTES);
    const gets = server.gets();
    const got = await layer.read(big, 100_000, 1000);
    expect(got.equals(files.get('big/file')!.subarray(100_000, 101_000))).toBe(true);
    expect(server.gets() - gets).toBe(1);
    const c1 = big.chunks[1]!;
    expect(server.requests.at(-1)!.ranges).toEqual([[c1.offset, c1.offset + c1.compressedSize - 1]]);
    await c.cache.flush();
    // Neither the other chunks of the file nor the small files after it came along.
    expect(c.cache.has(big.chunks[2]!.chunkDigest)).toBe(false);
    expect(c.cache.has(layer.index.lookup('tail/t0')!.chunks[0]!.chunkDigest)).toBe(false);
  });

  it('concurrent reads of neighbours while the region is in flight join its fetch', async () => {
    const { blob, files } = manySmallFiles();
    const { server, layer } = await setup(blob);
    server.delayMs = 200;
    const name = 'small/f10';
    const mates = regionMates(layer, files, name).slice(0, 10);
    const gets = server.gets();
    const first = layer.read(layer.index.lookup(name)!, 0, 4096);
    // The region's GET has reached the server (held there by the delay): its fetch is in flight.
    while (server.gets() === gets) await new Promise((r) => setTimeout(r, 2));
    const others = await Promise.all(mates.map((n) => layer.read(layer.index.lookup(n)!, 0, 4096)));
    expect((await first).equals(files.get(name)!)).toBe(true);
    others.forEach((data, i) => expect(data.equals(files.get(mates[i]!)!), mates[i]).toBe(true));
    expect(server.gets() - gets).toBe(1);
  });

  it('regionBytes 0: a read fetches only its own member; a bad regionBytes is refused', async () => {
    const { blob, files } = manySmallFiles();
    const { server, c, t, layer } = await setup(blob, 1 << 20, 0);
    const gets = server.gets();
    const f = layer.index.lookup('small/f200')!;
    expect((await layer.read(f, 0, 4096)).equals(files.get('small/f200')!)).toBe(true);
    expect(server.requests.at(-1)!.ranges).toEqual([[f.chunks[0]!.offset, f.chunks[0]!.offset + f.chunks[0]!.compressedSize - 1]]);
    await layer.read(layer.index.lookup('small/f201')!, 0, 4096);
    expect(server.gets() - gets).toBe(2);
    for (const bad of [-1, 1.5, MAX_REGION_BYTES + 1, Number.NaN]) {
      const err = await RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log, regionBytes: bad }).catch((e: unknown) => e);
      expect(err, String(bad)).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toContain('regionBytes');
    }
  });

  it('a smaller region: only the small members starting in the 4 KiB-aligned region of the read come along', async () => {
    const { blob, files } = manySmallFiles();
    const { server, c, layer } = await setup(blob, 1 << 20, 4096);
    const f = layer.index.lookup('small/f100')!;
    const start = Math.floor(f.chunks[0]!.offset / 4096) * 4096;
    await layer.read(f, 0, 4096);
    const [[first, last]] = server.requests.at(-1)!.ranges! as [[number, number]];
    expect(first).toBeGreaterThanOrEqual(start);
    expect(last).toBeLessThan(start + 2 * 4096); // the last member starting in the region runs to its end
    await c.cache.flush();
    let insiders = 0;
    for (const name of files.keys()) {
      const m = layer.index.lookup(name)!.chunks[0]!;
      const inside = m.compressedSize < 4096 && m.offset >= start && m.offset < start + 4096;
      if (inside) insiders++;
      expect(c.cache.has(m.chunkDigest), name).toBe(inside || name === 'small/f100');
    }
    expect(insiders).toBeGreaterThan(3);
  });

  it('a small member that declares much data (a zero-filled file, a gzip bomb) is no neighbour: fetched only when read', async () => {
    const zeros = Buffer.alloc(MAX_NEIGHBOUR_INFLATED_BYTES + 1); // ~1 KiB compressed
    const list = [
      { name: 'a', data: testData(300, 1) },
      { name: 'zeros', data: zeros },
      { name: 'b', data: testData(300, 2) },
    ];
    const { c, layer } = await setup(buildBlob(list).blob);
    const a = layer.index.lookup('a')!;
    const z = layer.index.lookup('zeros')!;
    expect(z.chunks[0]!.compressedSize).toBeLessThan(REGION_BYTES);
    expect(await layer.read(a, 0, 300)).toEqual(list[0]!.data);
    await c.cache.flush();
    expect(c.cache.has(layer.index.lookup('b')!.chunks[0]!.chunkDigest)).toBe(true);
    expect(c.cache.has(z.chunks[0]!.chunkDigest)).toBe(false);
    expect((await layer.read(z, 0, z.size)).equals(zeros)).toBe(true);
  });
});
