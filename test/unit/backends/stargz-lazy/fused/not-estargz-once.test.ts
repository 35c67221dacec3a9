/**
 * A layer that is not eStargz costs the FUSE-serving process one request for its tail, however
 * often it is opened: the open hint (`POST /v1/open`, opened ahead) and the mount that follows
 * it, or a later pull of the same blob, are answered from the remembered rejection. A blob
 * shorter than the tail is fetched once, whole. A registry failure is not remembered: the next
 * open asks again. Counted at a registry-shaped server on loopback that answers suffix ranges.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { NotEstargzError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { fusedConfigSchema } from '../../../../../backends/stargz-lazy/protocol/fused-config.js';
import { remoteOpener } from '../../../../../backends/stargz-lazy/fused/remote-opener.js';
import { ServedMounts } from '../../../../../backends/stargz-lazy/fused/served-mounts.js';
import { OPEN_TAIL_BYTES } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { RegistryClient } from '../../../../../backends/stargz-lazy/registry/registry-client.js';
import { UnavailableError } from '../../../../../core/sdk.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { testData } from '../registry/servers/test-client.js';

const KiB = 1024;
const TAIL = OPEN_TAIL_BYTES;
const log = pino({ level: 'silent' });
const config = fusedConfigSchema.parse({ registry: { retry: { retries: 0 } } });

let tmp: string;
let server: BlobServer;
let registry: RegistryClient;
let cache: ChunkCache;
const blobs = new Map<string, Buffer>();
/** Body bytes the server sent, per blob digest. */
const sent = new Map<string, number>();
/** Digests whose next request fails with 503 (once each). */
const failNext = new Set<string>();

/** A gzip blob that is not eStargz (random content: it does not compress below `size`). */
function ordinaryLayer(size: number, seed: number): string {
  const blob = gzipSync(testData(size, seed), { level: 0 });
  const digest = sha256(blob);
  blobs.set(digest, blob);
  return digest;
}

/** Suffix ranges as RFC 9110 says (206, the last N bytes or all of a shorter blob); the rest as serveBlob. */
function serve(req: IncomingMessage, res: ServerResponse): void {
  const digest = new URL(req.url ?? '/', 'http://x').pathname.split('/').pop() ?? '';
  const blob = blobs.get(digest);
  if (!blob) return void res.writeHead(404).end();
  if (failNext.delete(digest)) return void res.writeHead(503).end();
  const count = (n: number) => sent.set(digest, (sent.get(digest) ?? 0) + n);
  const m = /^bytes=-(\d+)$/.exec(req.headers.range ?? '');
  if (m && req.method === 'GET') {
    const n = Math.min(Number(m[1]), blob.length);
    count(n);
    res.writeHead(206, { 'content-length': n, 'content-range': `bytes ${blob.length - n}-${blob.length - 1}/${blob.length}` });
    return void res.end(blob.subarray(blob.length - n));
  }
  res.once('finish', () => count(Number(res.getHeader('content-length') ?? 0) * (req.method === 'GET' ? 1 : 0)));
  serveBlob(req, res, blob);
}

const reference = (repo: string) => `${server.host}/${repo}:latest`;
const requestsFor = (digest: string) => server.requests.filter((r) => r.path.endsWith(digest));

function servedMounts(): ServedMounts<never> {
  const counters = { registryBytes: 0, registryReads: 0 };
  const openLayer = remoteOpener({ config, log, registry, cache, counters });
  return new ServedMounts({ config, log, openLayer: openLayer as never, probe: () => Promise.resolve({ reachable: true }) });
}

async function mountpoint(name: string): Promise<string> {
  const dir = join(tmp, 'mnt', name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The snapshotter's order for a layer: the open hint, then the mount request. */
async function hintThenMount(mounts: ServedMounts<never>, repo: string, digest: string, name: string): Promise<unknown> {
  mounts.open({ reference: reference(repo), digest });
  return mounts.mount({ mountpoint: await mountpoint(name), reference: reference(repo), digest }, new AbortController().signal).catch((err: unknown) => err);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-not-estargz-once-'));
  server = await startBlobServer(serve);
  registry = new RegistryClient(config.registry, { log, credentials: () => undefined });
  cache = await ChunkCache.open(join(tmp, 'cache'), { memoryBytes: 0, log });
});

afterAll(async () => {
  cache?.close();
  await registry?.close();
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('a layer that is not eStargz', () => {
  it('costs one tail request through the open hint and the mount, and none on a later mount', async () => {
    const digest = ordinaryLayer(2 * 1024 * KiB, 1);
    const mounts = servedMounts();
    const first = await hintThenMount(mounts, 'test/ordinary', digest, 'a1');
    expect(first).toBeInstanceOf(NotEstargzError);
    expect(requestsFor(digest).map((r) => [r.method, r.range])).toEqual([['GET', `bytes=-${TAIL}`]]);
    expect(sent.get(digest)).toBe(TAIL);
    // Another image with the same layer, later: the same answer, no request.
    const again = await hintThenMount(mounts, 'test/other', digest, 'a2');
    expect(again).toBeInstanceOf(NotEstargzError);
    expect((again as Error).message).toBe((first as Error).message);
    expect(requestsFor(digest)).toHaveLength(1);
    expect(sent.get(digest)).toBe(TAIL);
  });

  it('shorter than the tail: fetched once, whole', async () => {
    const digest = ordinaryLayer(40 * KiB, 2);
    const size = blobs.get(digest)!.length;
    const mounts = servedMounts();
    expect(await hintThenMount(mounts, 'test/small', digest, 'b1')).toBeInstanceOf(NotEstargzError);
    expect(await hintThenMount(mounts, 'test/small', digest, 'b2')).toBeInstanceOf(NotEstargzError);
    expect(requestsFor(digest)).toHaveLength(1);
    expect(sent.get(digest)).toBe(size);
  });

  it('a registry failure is not remembered: the next open asks again', async () => {
    const digest = ordinaryLayer(1024 * KiB, 3);
    const mounts = servedMounts();
    failNext.add(digest);
    const failed = await mounts.mount({ mountpoint: await mountpoint('c1'), reference: reference('test/flaky'), digest }, new AbortController().signal).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(UnavailableError);
    expect(await hintThenMount(mounts, 'test/flaky', digest, 'c2')).toBeInstanceOf(NotEstargzError);
    expect(await hintThenMount(mounts, 'test/flaky', digest, 'c3')).toBeInstanceOf(NotEstargzError);
    expect(requestsFor(digest).map((r) => r.range)).toEqual([`bytes=-${TAIL}`, `bytes=-${TAIL}`]);
    expect(sent.get(digest)).toBe(TAIL);
  });
});
