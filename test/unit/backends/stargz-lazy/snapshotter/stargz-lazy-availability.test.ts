/**
 * Availability of remote layers through the backend and the shared gRPC adapter: a real
 * FUSE-serving process (from source) over a registry stand-in that can go away and come back on
 * the same port. While the registry is down and the layer is not fully cached, Mounts, View and
 * Prepare on it answer UNAVAILABLE naming the snapshot, the layer digest, the image and why;
 * `status()` reports the layer unavailable with its cached share and the backend's series;
 * once the registry is back (and the memoized probe expired), everything works again without
 * restarting anything.
 */
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusedConfigOf } from '../../../../../backends/stargz-lazy/fused-client/fused-config-of.js';
import { FusedClientLink } from '../../../../../backends/stargz-lazy/fused-client/fused-client-link.js';
import { openSnapshotter } from '../../../../../backends/stargz-lazy/snapshotter/open-snapshotter.js';
import { stargzLazyOptions } from '../../../../../backends/stargz-lazy/options.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import { stopFused } from '../../../../../backends/stargz-lazy/fused-client/stop-fused.js';
import type { MountsResponse__Output } from '../../../../../core/grpc/generated/containerd/services/snapshots/v1/MountsResponse.js';
import type { BackendMetric, Call, Snapshotter } from '../../../../../core/sdk.js';
import { grpcError, serve, unary, type Served } from '../../../core/grpc/helpers.js';
import { fixtures, fusedCommand, run, unmountAllUnder } from '../fused/fused-env.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';

const REF = 'containerd.io/snapshot.ref';
const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const L1 = `sha256:${'1'.repeat(64)}`;
/** The FUSE process reuses a probe's answer this long. */
const REACHABILITY_TTL_MS = 3_000;

const log = pino({ level: 'silent' });
let server: BlobServer;
let port: number;
let root: string;
let sn: Snapshotter;
let served: Served;
let digest: string;
let toc: string;
let reference: string;
const call = (): Call => ({ signal: AbortSignal.timeout(30_000), log });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function registryDown(): Promise<void> {
  await new Promise<void>((resolve) => {
    server.server.close(() => resolve());
    server.server.closeAllConnections();
  });
}

async function registryUp(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.server.listen(port, '127.0.0.1', () => resolve());
  });
}

const client = () => served.client;
const mounts = (key: string) => unary<MountsResponse__Output>((cb) => client().mounts({ key }, cb));
const view = (key: string, parent: string) => unary<MountsResponse__Output>((cb) => client().view({ key, parent, labels: {} }, cb));
const prepare = (key: string, parent: string, labels: Record<string, string> = {}) =>
  unary<MountsResponse__Output>((cb) => client().prepare({ key, parent, labels }, cb));
const metric = (ms: BackendMetric[] | undefined, name: string) => ms?.find((m) => m.name === name);

beforeAll(async () => {
  const blob = await readFile(`${fixtures}full.estargz`);
  digest = sha256(blob);
  toc = (JSON.parse(await readFile(`${fixtures}full.expected.json`, 'utf8')) as { tocDigest: string }).tocDigest;
  server = await startBlobServer((req, res) => serveBlob(req, res, blob));
  port = Number(server.host.split(':')[1]);
  reference = `${server.host}/avail/image:esgz`;
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-avail-')));
  const options = stargzLazyOptions.parse({ readTimeoutMs: 3_000, backgroundFetch: { enabled: false }, prefetch: { enabled: false } });
  sn = await openSnapshotter(options, { name: 'stargz-lazy', root, log, signal: new AbortController().signal }, (r, o, l) =>
    new FusedClientLink(r, fusedConfigOf(o, l), l, 30_000, fusedCommand),
  );
  served = await serve(sn, { backend: 'stargz-lazy', log });
  const err = await grpcError(
    prepare(`ns/1/extract ${L1}`, '', { [REF]: L1, [LABEL_STARGZ_REFERENCE]: reference, [LABEL_STARGZ_DIGEST]: digest, [TOC]: toc }),
  );
  expect(err.code, err.details).toBe(grpc.status.ALREADY_EXISTS);
  await view('ns/2/view', L1);
}, 60_000);

afterAll(async () => {
  await served?.close();
  await sn?.close?.();
  if (root) {
    await unmountAllUnder(root);
    await stopFused(root);
    await rm(root, { recursive: true, force: true });
  }
  if (server?.server.listening) await server.close();
}, 30_000);

describe('stargz-lazy availability', () => {
  it('status while the registry answers: the layer is available, with its progress and the series', async () => {
    const st = await sn.status!(call());
    expect(st.snapshots).toBe(2);
    expect(st.diskBytes).toBeGreaterThan(0);
    expect(st.layers).toHaveLength(1);
    expect(st.layers![0]).toMatchObject({ snapshot: L1, digest, reference, state: 'available' });
    expect(st.layers![0]!.totalBytes).toBeGreaterThan(0);
    expect(metric(st.metrics, 'lazy_layers_unavailable')).toMatchObject({ type: 'gauge', value: 0 });
    expect(metric(st.metrics, 'registry_fetched_bytes_total')?.type).toBe('counter');
    expect(metric(st.metrics, 'fuse_read_duration_seconds')?.type).toBe('histogram');
    expect(metric(st.metrics, 'chunk_cache_disk_limit_bytes')).toMatchObject({ value: 10 * 1024 * 1024 * 1024 });
    expect((await mounts('ns/2/view')).mounts).toHaveLength(1);
  });

  it('registry down, layer not fully cached: Mounts, View and Prepare answer UNAVAILABLE naming snapshot, layer, image and reason', async () => {
    await registryDown();
    await sleep(REACHABILITY_TTL_MS);
    const started = Date.now();
    const err = await grpcError(mounts('ns/2/view'));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toContain(`remote snapshot "${L1}"`);
    expect(err.details).toContain(`layer ${digest} of ${reference} is unavailable`);
    expect(err.details).toMatch(/registry 127\.0\.0\.1:\d+ unreachable: .*ECONNREFUSED.*; \d+ percent of the layer is cached/);
    expect((await grpcError(view('ns/3/view', L1))).code).toBe(grpc.status.UNAVAILABLE);
    expect((await grpcError(prepare('ns/4/ctr', L1))).code).toBe(grpc.status.UNAVAILABLE);
  }, 20_000);

  it('status during the outage: the layer is unavailable with the reason; the gauge says so', async () => {
    const st = await sn.status!(call());
    expect(st.layers![0]).toMatchObject({ snapshot: L1, state: 'unavailable' });
    expect(st.layers![0]!.reason).toMatch(/unreachable/);
    expect(st.layers![0]!.fetchedBytes).toBeLessThan(st.layers![0]!.totalBytes);
    expect(metric(st.metrics, 'lazy_layers_unavailable')).toMatchObject({ value: 1 });
  });

  it('the registry back on the same port: Mounts works again without restarting anything', async () => {
    await registryUp();
    await sleep(REACHABILITY_TTL_MS);
    expect((await mounts('ns/2/view')).mounts).toHaveLength(1);
    expect((await prepare('ns/4/ctr', L1)).mounts).toHaveLength(1);
    const st = await sn.status!(call());
    expect(st.layers![0]!.state).toBe('available');
  }, 20_000);

  it('a layer read in full stays available while its registry is down', async () => {
    const layerDir = path.join(root, 'snapshots', '1', 'fs');
    const all = await run('sh', ['-c', `find ${layerDir} -type f -exec cat {} + >/dev/null`]);
    expect(all.code, all.stderr).toBe(0);
    await registryDown();
    try {
      await sleep(REACHABILITY_TTL_MS);
      expect((await mounts('ns/2/view')).mounts).toHaveLength(1);
      const st = await sn.status!(call());
      expect(st.layers![0]).toMatchObject({ state: 'available', fetchedBytes: st.layers![0]!.totalBytes });
    } finally {
      await registryUp();
    }
  }, 20_000);
});
