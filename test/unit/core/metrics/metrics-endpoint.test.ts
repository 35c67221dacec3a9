/**
 * The metrics endpoint end to end: a real grpc-js client calls the real memory backend through
 * the shared adapter on a unix socket, with the adapter's observer from SnaphostMetrics; then
 * `/metrics` is scraped over HTTP from serveMetrics and parsed back.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import memory from '../../../../backends/memory/index.js';
import type { MountsResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/MountsResponse.js';
import { SnaphostMetrics } from '../../../../core/metrics/snaphost-metrics.js';
import { serveMetrics, type MetricsServer } from '../../../../core/metrics/serve-metrics.js';
import type { Snapshotter } from '../../../../core/contract/snapshotter.js';
import { type Served, grpcError, listAll, serve, silentLog, tempDir, unary } from '../grpc/helpers.js';
import { parseExposition, valueOf, type Family } from './parse-exposition.js';

let root: string;
let sn: Snapshotter;
let s: Served;
let metrics: SnaphostMetrics;
let endpoint: MetricsServer;

beforeAll(async () => {
  root = await tempDir('snaphost-metrics-');
  sn = await memory.create(memory.options.parse({ size: '64m' }), { name: 'memory', root, log: silentLog, signal: new AbortController().signal });
  metrics = new SnaphostMetrics({ collectTimeoutMs: 300, log: silentLog });
  s = await serve(sn, { backend: 'memory', observe: metrics.rpcObserver('memory') });
  metrics.addBackend('memory', async () => ({ snapshots: 2, diskBytes: 4096 }));
  endpoint = await serveMetrics(metrics, '127.0.0.1:0', silentLog);
});

afterAll(async () => {
  await endpoint?.close();
  await s?.close();
  await sn?.close?.();
  if (root) await rm(root, { recursive: true, force: true });
});

async function scrape(): Promise<Map<string, Family>> {
  const res = await fetch(`http://${endpoint.address}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await res.text());
}

const requests = (method: string, code: string) => valueOf(families, 'snaphost_rpc_requests_total', { backend: 'memory', method, code });
let families: Map<string, Family>;

describe('metrics endpoint after real RPCs', () => {
  it('counts RPCs by method and gRPC code and times them', async () => {
    families = await scrape();
    expect(requests('Prepare', 'OK')).toBe(0);
    expect(valueOf(families, 'snaphost_rpc_duration_seconds_count', { backend: 'memory', method: 'Prepare' })).toBe(0);

    const { client } = s;
    await unary<MountsResponse__Output>((cb) => client.prepare({ key: 'a', parent: '', labels: {} }, cb));
    await unary<object>((cb) => client.commit({ name: 'base', key: 'a', labels: {} }, cb));
    await unary<MountsResponse__Output>((cb) => client.prepare({ key: 'b', parent: 'base', labels: {} }, cb));
    expect((await grpcError(unary((cb) => client.stat({ key: 'missing' }, cb)))).details).toMatch(/missing/);
    expect((await grpcError(unary((cb) => client.prepare({ key: 'b', parent: 'base', labels: {} }, cb)))).code).toBeGreaterThan(0);
    await grpcError(unary((cb) => client.prepare({ key: '', parent: '', labels: {} }, cb)));
    expect((await listAll(client)).infos.map((i) => i.name).sort()).toEqual(['b', 'base']);

    families = await scrape();
    expect(requests('Prepare', 'OK')).toBe(2);
    expect(requests('Prepare', 'ALREADY_EXISTS')).toBe(1);
    expect(requests('Prepare', 'INVALID_ARGUMENT')).toBe(1);
    expect(requests('Commit', 'OK')).toBe(1);
    expect(requests('Stat', 'NOT_FOUND')).toBe(1);
    expect(requests('Stat', 'OK')).toBe(0);
    expect(requests('List', 'OK')).toBe(1);
    expect(valueOf(families, 'snaphost_rpc_duration_seconds_count', { backend: 'memory', method: 'Prepare' })).toBe(4);
    expect(valueOf(families, 'snaphost_rpc_duration_seconds_bucket', { backend: 'memory', method: 'Prepare', le: '+Inf' })).toBe(4);
    expect(valueOf(families, 'snaphost_rpc_duration_seconds_bucket', { backend: 'memory', method: 'Prepare', le: '30' })).toBe(4);
    expect(valueOf(families, 'snaphost_rpc_duration_seconds_sum', { backend: 'memory', method: 'Prepare' })).toBeGreaterThan(0);
    expect(valueOf(families, 'snaphost_rpc_duration_seconds_count', { backend: 'memory', method: 'List' })).toBe(1);
    expect(families.get('snaphost_rpc_duration_seconds')!.type).toBe('histogram');
    expect(families.get('snaphost_rpc_requests_total')!.type).toBe('counter');
  });

  it('reports each backend status, and the process metrics with the snaphost_ prefix', async () => {
    families = await scrape();
    expect(valueOf(families, 'snaphost_backend_up', { backend: 'memory' })).toBe(1);
    expect(valueOf(families, 'snaphost_backend_snapshots', { backend: 'memory' })).toBe(2);
    expect(valueOf(families, 'snaphost_backend_disk_bytes', { backend: 'memory' })).toBe(4096);
    expect(valueOf(families, 'snaphost_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(families.get('snaphost_nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    for (const name of families.keys()) expect(name).toMatch(/^snaphost_/);
  });

  it('a failing or slow status makes that backend down; the scrape still answers', async () => {
    const removeBroken = metrics.addBackend('broken', () => Promise.reject(new Error('boom')));
    const removeThrows = metrics.addBackend('throws', () => {
      throw new TypeError('sync throw');
    });
    let seen: AbortSignal | undefined;
    const removeSlow = metrics.addBackend('slow', (signal) => {
      seen = signal;
      return new Promise(() => {});
    });
    const started = Date.now();
    families = await scrape();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(valueOf(families, 'snaphost_backend_up', { backend: 'broken' })).toBe(0);
    expect(valueOf(families, 'snaphost_backend_up', { backend: 'throws' })).toBe(0);
    expect(valueOf(families, 'snaphost_backend_up', { backend: 'slow' })).toBe(0);
    expect(valueOf(families, 'snaphost_backend_status_seconds', { backend: 'slow' })).toBeGreaterThanOrEqual(0.29);
    expect(seen?.aborted).toBe(true);
    expect(valueOf(families, 'snaphost_backend_up', { backend: 'memory' })).toBe(1);
    expect(valueOf(families, 'snaphost_backend_snapshots', { backend: 'slow' })).toBeUndefined();
    expect(requests('Prepare', 'OK')).toBe(2);

    removeBroken();
    removeThrows();
    removeSlow();
    families = await scrape();
    expect(valueOf(families, 'snaphost_backend_up', { backend: 'slow' })).toBeUndefined();
    expect(valueOf(families, 'snaphost_backend_up', { backend: 'memory' })).toBe(1);
  });

  it('answers only GET/HEAD /metrics', async () => {
    const base = `http://${endpoint.address}`;
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${base}/metrics?name[]=x`)).status).toBe(200);
  });
});
