/**
 * TOC indexing in a worker thread (the compiled worker in dist/, built before the unit tests):
 * the same index and digest as in this thread, the same errors (the failed job is redone here),
 * and a missing or dying worker costs nothing but the thread.
 */
import { existsSync } from 'node:fs';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MalformedEstargzError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { WorkerIndexer } from '../../../../../backends/stargz-lazy/estargz/toc-index-worker-pool.js';
import type { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import { bufferReader, buildBlob, loadFixture } from './make-blob.js';

const compiled = new URL('../../../../../dist/backends/stargz-lazy/estargz/toc-index-worker.js', import.meta.url).pathname;
const lines: Record<string, unknown>[] = [];
const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
const indexers: WorkerIndexer[] = [];
const make = (file = compiled) => {
  const w = new WorkerIndexer(log, file);
  indexers.push(w);
  return w;
};

afterEach(async () => {
  for (const w of indexers.splice(0)) await w.close();
  lines.length = 0;
});

/** Everything a reader sees of an index, node by node. */
function dump(index: LayerIndex): unknown[] {
  return [...index.nodes()].map((n) => ({
    ino: n.ino, path: n.path, type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, userName: n.userName, groupName: n.groupName,
    size: n.size, mtimeNs: n.mtimeNs, linkName: n.linkName, devMajor: n.devMajor, devMinor: n.devMinor, nlink: n.nlink,
    digest: n.digest, chunks: n.chunks, xattrs: [...n.xattrs].map(([k, v]) => [k, v.toString('hex')]), opaque: n.opaque,
    children: [...n.children.keys()], whiteouts: [...n.whiteouts.keys()],
  }));
}

describe.skipIf(!existsSync(compiled))('WorkerIndexer', () => {
  it('builds the same index and digest as this thread, Buffers and all', async () => {
    const { blob, expected } = loadFixture('full');
    const here = await openLayer(bufferReader(blob), { expectedTocDigest: expected.tocDigest });
    const there = await openLayer(bufferReader(blob), { expectedTocDigest: expected.tocDigest, indexer: make() });
    expect(there.tocDigest).toBe(here.tocDigest);
    expect(dump(there.index)).toEqual(dump(here.index));
    expect(there.index.prefetch.files.map((f) => f.path)).toEqual(here.index.prefetch.files.map((f) => f.path));
    expect(there.index.chunkList().digests).toEqual(here.index.chunkList().digests);
    expect(lines.filter((l) => l['level'] === 40)).toEqual([]);
  });

  it('answers errors with their class and message (the job is redone in this thread)', async () => {
    const w = make();
    const { blob } = loadFixture('plain');
    const wrongDigest = loadFixture('full').expected.tocDigest;
    const here = await openLayer(bufferReader(blob), { expectedTocDigest: wrongDigest }).catch((e: unknown) => e);
    const there = await openLayer(bufferReader(blob), { expectedTocDigest: wrongDigest, indexer: w }).catch((e: unknown) => e);
    expect(there).toBeInstanceOf(VerificationError);
    expect((there as Error).message).toBe((here as Error).message);
    const { blob: bad } = buildBlob([{ name: 'a', data: Buffer.from('a') }], { tocJson: '{"entries": [ {"name": "../x", "type": "reg"} ] }' });
    await expect(openLayer(bufferReader(bad), { indexer: w })).rejects.toThrow(MalformedEstargzError);
    // the worker still serves after failures
    const { blob: ok, expected } = loadFixture('full');
    expect((await openLayer(bufferReader(ok), { indexer: w })).tocDigest).toBe(expected.tocDigest);
  });

  it('indexes in this thread when there is no compiled worker', async () => {
    const w = make('/nonexistent/toc-index-worker.js');
    const { blob, expected } = loadFixture('full');
    expect((await openLayer(bufferReader(blob), { indexer: w })).tocDigest).toBe(expected.tocDigest);
    expect(lines.some((l) => String(l['msg']).includes('no compiled TOC index worker'))).toBe(true);
  });

  it('jobs out when the worker dies are done in this thread; later ones too', async () => {
    const w = make();
    w.start();
    const { blob, expected } = loadFixture('full');
    const jobs = [1, 2, 3].map(() => openLayer(bufferReader(blob), { indexer: w }));
    await w.close();
    for (const j of jobs) expect((await j).tocDigest).toBe(expected.tocDigest);
    expect((await openLayer(bufferReader(blob), { indexer: w })).tocDigest).toBe(expected.tocDigest);
  });
});
