/**
 * The daemon's metrics wiring with a real memory backend and a real metrics endpoint: RPCs
 * are counted per backend, each running backend's status is a series, and a backend a
 * reload removes leaves the scrape.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { startDaemon, type Daemon } from '../../../../core/daemon.js';
import { serveMetrics, type MetricsServer } from '../../../../core/metrics/serve-metrics.js';
import { SnaphostMetrics } from '../../../../core/metrics/snaphost-metrics.js';
import { newClient, unary } from '../grpc/helpers.js';

const log = pino({ level: 'silent' });
let dir: string;
let daemon: Daemon | undefined;
let endpoint: MetricsServer | undefined;
const clients: grpc.Client[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-dmetrics-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await daemon?.stop();
  await endpoint?.close();
  daemon = undefined;
  endpoint = undefined;
  await rm(dir, { recursive: true, force: true });
});

const config = (names: string[]) =>
  resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), backends: names.map((name) => ({ use: 'memory', name, options: { size: '16m' } })) }, { baseDir: dir });

async function scrape(): Promise<string> {
  const res = await fetch(`http://${endpoint!.address}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('daemon metrics', () => {
  it('counts RPCs per backend, reports each running backend, and drops one a reload removes', async () => {
    const metrics = new SnaphostMetrics({ log });
    endpoint = await serveMetrics(metrics, '127.0.0.1:0', log);
    daemon = await startDaemon(await config(['m1', 'm2']), { log, metrics });
    const c = newClient(join(dir, 'run', 'm1.sock'));
    clients.push(c);
    await unary((cb) => c.prepare({ key: 'a', parent: '' }, cb));
    await unary((cb) => c.stat({ key: 'a' }, cb)).catch(() => undefined);
    await unary((cb) => c.stat({ key: 'missing' }, cb)).catch(() => undefined);

    const first = await scrape();
    expect(first).toMatch(/^snaphost_rpc_requests_total\{backend="m1",method="Prepare",code="OK"\} 1$/m);
    expect(first).toMatch(/^snaphost_rpc_requests_total\{backend="m1",method="Stat",code="NOT_FOUND"\} 1$/m);
    expect(first).toMatch(/^snaphost_backend_snapshots\{backend="m1"\} 1$/m);
    expect(first).toMatch(/^snaphost_backend_snapshots\{backend="m2"\} 0$/m);

    await daemon.reload(() => config(['m1']));
    const second = await scrape();
    expect(second).toMatch(/^snaphost_backend_snapshots\{backend="m1"\} 1$/m);
    expect(second).not.toMatch(/^snaphost_backend_snapshots\{backend="m2"\}/m);
  });

  it("marks a backend down when its own status() fails, and keeps scraping the others", async () => {
    const failing = join(dir, 'failing-status.mjs');
    await writeFile(
      failing,
      `import memory from ${JSON.stringify(new URL('../../../../backends/memory/index.ts', import.meta.url).pathname)};
export default { ...memory, name: 'failing-status', create: async (o, ctx) => {
  const sn = await memory.create(o, ctx);
  return new Proxy(sn, { get: (t, p) => (p === 'status' ? () => { throw new Error('status is broken'); } : typeof t[p] === 'function' ? t[p].bind(t) : t[p]) });
} };
`,
    );
    const metrics = new SnaphostMetrics({ log });
    endpoint = await serveMetrics(metrics, '127.0.0.1:0', log);
    const resolved = await resolveConfig(
      {
        socketDir: join(dir, 'run'),
        rootDir: join(dir, 'lib'),
        backends: [
          { use: 'memory', name: 'm1', options: { size: '16m' } },
          { use: failing, name: 'broken', options: { size: '16m' } },
        ],
      },
      { baseDir: dir },
    );
    daemon = await startDaemon(resolved, { log, metrics });
    const text = await scrape();
    expect(text).toMatch(/^snaphost_backend_up\{backend="m1"\} 1$/m);
    expect(text).toMatch(/^snaphost_backend_up\{backend="broken"\} 0$/m);
  });
});
