/** RemoteLayer.prefetch against a node:http range server: the landmark set, the bounds, the logs. */
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { buildBlob, sha256 } from '../estargz/make-blob.js';
import { clientFor, prioritizedBlob, removeTemps, startSwitchableServer, tempCache } from './layer-env.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await removeTemps();
});

async function setup(blob: Buffer) {
  const server = await startSwitchableServer(blob);
  cleanup.push(() => server.close());
  const t = clientFor(server, sha256(blob));
  cleanup.push(() => t.client.close());
  const c = await tempCache(0);
  const layer = await RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log });
  return { server, c, layer, gets: () => server.requests.filter((r) => r.method === 'GET') };
}

const b = prioritizedBlob();
const PRIORITIZED = ['app/bin', 'app/conf'] as const;
const memberBytes = (layer: RemoteLayer, name: string) => layer.index.lookup(name)!.chunks.reduce((n, c) => n + c.compressedSize, 0);

describe('RemoteLayer.prefetch', () => {
  it('fetches exactly the files before the landmark, in one request, and logs progress', async () => {
    const { layer, gets, c } = await setup(b.blob);
    expect(layer.index.prefetch.files.map((f) => f.path)).toEqual(PRIORITIZED);
    const before = gets().length;
    const result = await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 5000 });
    const bytes = PRIORITIZED.reduce((n, p) => n + memberBytes(layer, p), 0);
    expect(result).toEqual({ files: 2, bytes, complete: true });
    const sent = gets().slice(before);
    expect(sent).toHaveLength(1);
    const first = layer.index.lookup('app/bin')!.chunks[0]!.offset;
    expect(sent[0]!.ranges).toEqual([[first, layer.index.prefetch.endOffset - 1]]);
    // They read without a request; a file after the landmark needs one.
    const after = gets().length;
    for (const p of PRIORITIZED) expect((await layer.read(layer.index.lookup(p)!, 0, 1 << 20)).equals(b.files[p])).toBe(true);
    expect(gets().length).toBe(after);
    await layer.read(layer.index.lookup('data/small')!, 0, 5);
    expect(gets().length).toBe(after + 1);
    const started = c.lines.find((l) => l.msg === 'prefetch started');
    expect(started).toMatchObject({ level: 30, files: 2, totalBytes: bytes });
    expect(c.lines.find((l) => l.msg === 'prefetch done')).toMatchObject({ level: 30, percent: 100, bytes, files: 2 });
  });

  it('stops at maxBytes with whole files only, and says so', async () => {
    const { layer, gets, c } = await setup(b.blob);
    const binBytes = memberBytes(layer, 'app/bin');
    const result = await layer.prefetch({ maxBytes: binBytes + 1, timeoutMs: 5000 });
    expect(result).toEqual({ files: 1, bytes: binBytes, complete: false });
    expect(await c.cache.has(layer.index.lookup('app/conf')!.chunks[0]!.chunkDigest)).toBe(false);
    expect(c.lines.find((l) => l.msg === 'prefetch stopped')).toMatchObject({ stopped: `maxBytes ${binBytes + 1} reached` });
    // A second prefetch with room for the rest fetches only what is missing.
    const before = gets().length;
    expect(await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 5000 })).toEqual({ files: 2, bytes: memberBytes(layer, 'app/conf'), complete: true });
    expect(gets().length - before).toBe(1);
    // Everything cached: nothing to fetch.
    expect(await layer.prefetch({ maxBytes: 0, timeoutMs: 5000 })).toEqual({ files: 2, bytes: 0, complete: true });
    expect(gets().length - before).toBe(1);
  });

  it('returns at the time limit with complete: false', async () => {
    const { layer, server, c } = await setup(b.blob);
    server.delayMs = 3000;
    const started = Date.now();
    const result = await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result).toEqual({ files: 0, bytes: 0, complete: false });
    expect(c.lines.find((l) => l.msg === 'prefetch stopped')).toMatchObject({ stopped: 'time limit of 200 ms reached' });
  });

  it("rejects with the caller's abort reason", async () => {
    const { layer, server } = await setup(b.blob);
    server.delayMs = 3000;
    const ac = new AbortController();
    const p = layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('unmounting')), 50);
    await expect(p).rejects.toThrow('unmounting');
  });

  it('a foreground read of a file being prefetched joins its fetch', async () => {
    const { layer, server, gets } = await setup(b.blob);
    server.delayMs = 150;
    const before = gets().length;
    const prefetch = layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 30));
    const read = await layer.read(layer.index.lookup('app/conf')!, 0, 100);
    expect(read.equals(b.files['app/conf'])).toBe(true);
    expect((await prefetch).complete).toBe(true);
    expect(gets().length - before).toBe(1);
  });

  it('a registry failure stops it without an error (the files are fetched when read)', async () => {
    const { layer, server, c } = await setup(b.blob);
    await server.close();
    expect(await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 5000 })).toEqual({ files: 0, bytes: 0, complete: false });
    expect(c.lines.find((l) => l.msg === 'prefetch failed; the files are fetched when read')).toMatchObject({ level: 40 });
  });

  it('does nothing without a landmark, and refuses bad bounds', async () => {
    const none = buildBlob([{ name: 'x', data: Buffer.from('x') }]);
    const { layer, gets } = await setup(none.blob);
    expect(layer.index.prefetch.landmark).toBe('none');
    const before = gets().length;
    expect(await layer.prefetch({ maxBytes: 1 << 20, timeoutMs: 1000 })).toEqual({ files: 0, bytes: 0, complete: true });
    expect(gets().length).toBe(before);
    await expect(layer.prefetch({ maxBytes: -1, timeoutMs: 1000 })).rejects.toThrow(InvalidArgumentError);
    await expect(layer.prefetch({ maxBytes: 1, timeoutMs: 0 })).rejects.toThrow(InvalidArgumentError);
  });
});
