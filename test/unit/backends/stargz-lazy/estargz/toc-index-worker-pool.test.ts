/**
 * TOC indexing in worker threads (the compiled worker in dist/, built before the unit tests):
 * the same index and digest as in this thread, the same errors, never work redone in this
 * thread; jobs cancelled by their signal or their time bound stop their worker and the pool
 * goes on; a slow layer does not hold up another; no abort listener is left behind.
 */
import { existsSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EstargzLimitError, MalformedEstargzError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { footerFetchSize, parseFooter } from '../../../../../backends/stargz-lazy/estargz/footer.js';
import { tocRange } from '../../../../../backends/stargz-lazy/estargz/toc.js';
import { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { WorkerIndexer } from '../../../../../backends/stargz-lazy/estargz/toc-index-worker-pool.js';
import type { WorkerIndexerOptions } from '../../../../../backends/stargz-lazy/estargz/toc-index-worker-options.js';
import { inThreadIndexer, type TocIndexRequest } from '../../../../../backends/stargz-lazy/estargz/toc-indexer.js';
import { UnavailableError } from '../../../../../core/sdk.js';
import { bufferReader, buildBlob, loadFixture } from './make-blob.js';
import { makeWarmUpToc } from '../../../../../backends/stargz-lazy/fused/warm-up-blob.js';

const compiled = new URL('../../../../../dist/backends/stargz-lazy/estargz/toc-index-worker.js', import.meta.url).pathname;
/** Spins on tocOffset SPIN, exits on EXIT, else the real worker (test/fixtures/estargz-workers). */
const misbehaving = new URL('../../../../fixtures/estargz-workers/misbehaving-index-worker.mjs', import.meta.url).pathname;
const SPIN = 424242;
const EXIT = 434343;
const lines: Record<string, unknown>[] = [];
const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
const indexers: WorkerIndexer[] = [];
const make = (file = compiled, workers?: number, more: Omit<WorkerIndexerOptions, 'file' | 'workers'> = {}) => {
  const w = new WorkerIndexer(log, { file, workers, ...more });
  indexers.push(w);
  return w;
};

afterEach(async () => {
  vi.restoreAllMocks();
  for (const w of indexers.splice(0)) await w.close();
  lines.length = 0;
});

/** The TOC member of the `full` fixture as an index request. */
function fullRequest(extra: Partial<TocIndexRequest> = {}): TocIndexRequest & { tocDigest: string } {
  const { blob, expected } = loadFixture('full');
  const footer = parseFooter(blob.subarray(blob.length - footerFetchSize(blob.length)), blob.length);
  const range = tocRange(footer, blob.length);
  const compressed = blob.subarray(range.offset, range.offset + range.length);
  return { compressed, tocOffset: footer.tocOffset, tocDigest: expected.tocDigest, ...extra };
}

/** A request that spins (or exits) in the misbehaving worker. */
const spinning = (extra: Partial<TocIndexRequest> = {}): TocIndexRequest => ({ compressed: new Uint8Array(8), tocOffset: SPIN, ...extra });

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

  it('rejects a failed job with the worker\'s error (class, message, fields), never redoing it in this thread', async () => {
    const w = make();
    const { blob } = loadFixture('plain');
    const wrongDigest = loadFixture('full').expected.tocDigest;
    const here = await openLayer(bufferReader(blob), { expectedTocDigest: wrongDigest }).catch((e: unknown) => e);
    const inThread = vi.spyOn(inThreadIndexer, 'index');
    const build = vi.spyOn(LayerIndex, 'build');
    const there = await openLayer(bufferReader(blob), { expectedTocDigest: wrongDigest, indexer: w }).catch((e: unknown) => e);
    expect(there).toBeInstanceOf(VerificationError);
    expect((there as Error).message).toBe((here as Error).message);
    expect(there).toMatchObject({ subject: (here as VerificationError).subject, expected: (here as VerificationError).expected });
    const { blob: bad } = buildBlob([{ name: 'a', data: Buffer.from('a') }], { tocJson: '{"entries": [ {"name": "../x", "type": "reg"} ] }' });
    await expect(openLayer(bufferReader(bad), { indexer: w })).rejects.toThrow(MalformedEstargzError);
    const many = loadFixture('full').blob;
    const limited = await openLayer(bufferReader(many), { indexer: w, limits: { maxEntries: 3 } }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(EstargzLimitError);
    expect(limited).toMatchObject({ limit: 'maxEntries', max: 3 });
    // Nothing of it ran here.
    expect(inThread).not.toHaveBeenCalled();
    expect(build).not.toHaveBeenCalled();
    // the workers still serve after failures
    const { blob: ok, expected } = loadFixture('full');
    expect((await openLayer(bufferReader(ok), { indexer: w })).tocDigest).toBe(expected.tocDigest);
  });

  it('an aborted job rejects at once with the signal\'s reason, its worker is stopped, and the pool keeps serving', async () => {
    const w = make(misbehaving, 1);
    const abort = new AbortController();
    const stuck = w.index(spinning({ signal: abort.signal }));
    const queued = new AbortController();
    const waiting = w.index(spinning({ signal: queued.signal })); // waits for the one worker
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    const reason = new Error('the mount request went away');
    abort.abort(reason);
    await expect(stuck).rejects.toBe(reason);
    queued.abort(new Error('gone too'));
    await expect(waiting).rejects.toThrow('gone too');
    expect(performance.now() - t0).toBeLessThan(500);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(queued.signal, 'abort')).toHaveLength(0);
    // The one slot has a new worker for the next job.
    const r = fullRequest();
    expect((await w.index(r)).digest).toBe(r.tocDigest);
    expect(w.pending).toBe(0);
    // An already aborted signal never starts a job.
    await expect(w.index(fullRequest({ signal: AbortSignal.abort(new Error('too late')) }))).rejects.toThrow('too late');
  });

  it('stops a job past maxIndexMs with an EstargzLimitError, and goes on', async () => {
    const w = make(misbehaving, 1);
    const t0 = performance.now();
    const err = await w.index(spinning({ limits: { maxIndexMs: 300 } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EstargzLimitError);
    expect(err).toMatchObject({ limit: 'maxIndexMs', max: 300 });
    expect((err as Error).message).toMatch(/time to index the TOC \(ms\) is \d+, above the limit maxIndexMs=300/);
    expect(performance.now() - t0).toBeLessThan(3_000);
    const r = fullRequest();
    expect((await w.index(r)).digest).toBe(r.tocDigest);
  });

  it('a slow layer does not hold up another layer\'s job', async () => {
    const w = make(misbehaving);
    w.start();
    const slow = new AbortController();
    const stuck = w.index(spinning({ signal: slow.signal }));
    const t0 = performance.now();
    const r = fullRequest();
    for (let i = 0; i < 3; i++) expect((await w.index(r)).digest).toBe(r.tocDigest);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(w.pending).toBe(1); // the slow one still runs
    slow.abort(new Error('done'));
    await expect(stuck).rejects.toThrow('done');
  });

  it('removes its abort listener when a job ends, whichever way (no accumulation on a long-lived signal)', async () => {
    const w = make();
    const longLived = new AbortController();
    const r = fullRequest({ signal: longLived.signal });
    for (let i = 0; i < 15; i++) await w.index(r);
    await w.index({ ...r, expectedDigest: `sha256:${'0'.repeat(64)}` }).catch(() => undefined);
    expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(0);
  });

  it('a worker that dies rejects its job (UnavailableError) and is replaced', async () => {
    const w = make(misbehaving, 1);
    await expect(w.index(spinning({ tocOffset: EXIT }))).rejects.toThrow(UnavailableError);
    expect(lines.some((l) => String(l['msg']).includes('exited'))).toBe(true);
    const r = fullRequest();
    expect((await w.index(r)).digest).toBe(r.tocDigest);
  });

  it('indexes in this thread when there is no compiled worker', async () => {
    const w = make('/nonexistent/toc-index-worker.js');
    const { blob, expected } = loadFixture('full');
    expect((await openLayer(bufferReader(blob), { indexer: w })).tocDigest).toBe(expected.tocDigest);
    expect(lines.some((l) => String(l['msg']).includes('no compiled TOC index worker'))).toBe(true);
  });

  it('close rejects the jobs not done, and later ones', async () => {
    const w = make(misbehaving, 1);
    w.start();
    const jobs = [w.index(spinning()), w.index(fullRequest())].map((j) => j.catch((e: unknown) => e));
    await w.close();
    for (const j of jobs) expect(await j).toBeInstanceOf(UnavailableError);
    await expect(w.index(fullRequest())).rejects.toThrow('the TOC indexer is closed');
  });

  it('an idle worker collects its garbage, then is stopped after idleMs; the next job starts one again', async () => {
    const posted = vi.spyOn(Worker.prototype, 'postMessage');
    const collects = () => posted.mock.calls.filter(([m]) => m === 'collect').length;
    const w = make(compiled, 1, { idleMs: 3_000, keepWarm: 0 });
    const r = fullRequest();
    expect((await w.index(r)).digest).toBe(r.tocDigest);
    expect(w.running).toBe(1);
    expect(collects()).toBe(0);
    await vi.waitFor(() => expect(collects()).toBe(1), { timeout: 2_500, interval: 50 });
    expect(w.running).toBe(1);
    await vi.waitFor(() => expect(w.running).toBe(0), { timeout: 6_000, interval: 50 });
    expect(collects()).toBe(1);
    expect(lines.some((l) => String(l['msg']).includes('idle: stopped'))).toBe(true);
    expect((await w.index(r)).digest).toBe(r.tocDigest);
    expect(w.running).toBe(1);
  });

  it('idleMs 0 keeps workers; a job that comes first keeps its worker; nonsense is refused', async () => {
    const w = make(compiled, 1, { idleMs: 0 });
    w.start();
    await sleep(700);
    expect(w.running).toBe(1);
    expect(() => new WorkerIndexer(log, { idleMs: -1 })).toThrow(RangeError);
    expect(() => new WorkerIndexer(log, { keepWarm: 0.5 })).toThrow(RangeError);
    const busy = make(compiled, 1, { idleMs: 2_000, keepWarm: 0 });
    const r = fullRequest();
    for (let i = 0; i < 4; i++) {
      await busy.index(r);
      await sleep(150);
    }
    expect(busy.running).toBe(1);
  });

  it('a TOC larger than the worker heap: the job rejects naming the heap and fusedMemoryLimitBytes, the pool goes on', async () => {
    const w = make(compiled, 1, { resourceLimits: { maxOldGenerationSizeMb: 16 } });
    const big = makeWarmUpToc(60_000, 'no-prefetch');
    await expect(w.index({ compressed: big.compressed, tocOffset: big.tocOffset, limits: { maxIndexMs: 60_000 } })).rejects.toThrow(
      /needs more than the index worker's heap \(16 MiB, from fusedMemoryLimitBytes\)/,
    );
    const r = fullRequest();
    expect((await w.index(r)).digest).toBe(r.tocDigest);
  }, 60_000);

  it('the first keepWarm workers stay up when idle (warm for the next pull), the others stop', async () => {
    const w = make(compiled, 2, { idleMs: 300, keepWarm: 1 });
    w.start();
    await vi.waitFor(() => expect(w.running).toBe(1), { timeout: 5_000, interval: 50 });
    await sleep(600);
    expect(w.running).toBe(1);
    const r = fullRequest();
    expect((await w.index(r)).digest).toBe(r.tocDigest);
  });
});
