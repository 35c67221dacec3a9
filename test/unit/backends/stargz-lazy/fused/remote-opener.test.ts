/**
 * remoteOpener: a layer's footer and TOC come from the registry at once; with `beforeIndex`
 * (a layer opened ahead while a mount's own layer opens), its TOC is indexed only after that
 * resolves.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { inThreadIndexer, type TocIndexer } from '../../../../../backends/stargz-lazy/estargz/toc-indexer.js';
import { fusedConfigSchema } from '../../../../../backends/stargz-lazy/protocol/fused-config.js';
import { remoteOpener } from '../../../../../backends/stargz-lazy/fused/remote-opener.js';
import { RegistryClient } from '../../../../../backends/stargz-lazy/registry/registry-client.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { fixtures } from './fused-env.js';

const log = pino({ level: 'silent' });
let tmp: string;
let server: BlobServer;
let registry: RegistryClient;
let cache: ChunkCache;
let blob: Buffer;
let digest: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-remote-opener-'));
  blob = await readFile(`${fixtures}full.estargz`);
  digest = sha256(blob);
  server = await startBlobServer((req, res) => serveBlob(req, res, blob));
  registry = new RegistryClient({}, { log });
  cache = await ChunkCache.open(join(tmp, 'cache'), { memoryBytes: 0, log });
});

afterAll(async () => {
  cache?.close();
  await registry?.close();
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('remoteOpener', () => {
  it('fetches the footer and TOC at once but indexes only after beforeIndex resolves', async () => {
    const indexed: number[] = [];
    const indexer: TocIndexer = { index: (job) => (indexed.push(job.compressed.length), inThreadIndexer.index(job)) };
    const counters = { registryBytes: 0, registryReads: 0 };
    const open = remoteOpener({ config: fusedConfigSchema.parse({}), log, registry, cache, counters, indexer });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const opening = open({ mountpoint: '/', reference: `${server.host}/test/image:latest`, digest }, new AbortController().signal, () => gate);
    const deadline = Date.now() + 10_000;
    while (server.requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests.length).toBeGreaterThan(0); // fetched
    expect(indexed).toEqual([]); // not indexed
    release();
    const layer = await opening;
    expect(indexed).toHaveLength(1);
    expect(layer.index.size).toBeGreaterThan(1);
  });

  it('without beforeIndex indexes as soon as the TOC is there', async () => {
    const indexed: number[] = [];
    const indexer: TocIndexer = { index: (job) => (indexed.push(job.compressed.length), inThreadIndexer.index(job)) };
    const open = remoteOpener({ config: fusedConfigSchema.parse({}), log, registry, cache, counters: { registryBytes: 0, registryReads: 0 }, indexer });
    await open({ mountpoint: '/', reference: `${server.host}/test/image:latest`, digest }, new AbortController().signal);
    expect(indexed).toHaveLength(1);
  });

  it("hands the mount request's signal to the indexer, limits too (a prepare that gives up stops its indexing)", async () => {
    const jobs: { signal?: AbortSignal | undefined; maxIndexMs?: number | undefined }[] = [];
    const indexer: TocIndexer = { index: (job) => (jobs.push({ signal: job.signal, maxIndexMs: job.limits?.maxIndexMs }), inThreadIndexer.index(job)) };
    const config = fusedConfigSchema.parse({ estargz: { maxIndexMs: 1234 } });
    const open = remoteOpener({ config, log, registry, cache, counters: { registryBytes: 0, registryReads: 0 }, indexer });
    const request = new AbortController();
    await open({ mountpoint: '/', reference: `${server.host}/test/image:latest`, digest }, request.signal, () => Promise.resolve());
    expect(jobs).toEqual([{ signal: request.signal, maxIndexMs: 1234 }]);
  });
});
