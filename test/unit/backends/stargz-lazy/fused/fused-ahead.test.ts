/**
 * Layers above a mount are opened while it mounts (the real FUSE-serving process, run from
 * source): their mount then costs no registry request, and the availability check that the
 * next prepare makes costs none either (their footer and TOC just came from the registry).
 */
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { fixtures, fusedCommand, quietLog, tearDown } from './fused-env.js';

let tmp: string;
let server: BlobServer;
let client: FusedClient;
const blobs = new Map<string, Buffer>();

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-ahead-'));
  for (const name of ['plain', 'full']) {
    const blob = await readFile(`${fixtures}${name}.estargz`);
    blobs.set(sha256(blob), blob);
  }
  server = await startBlobServer((req, res) => {
    const digest = new URL(req.url ?? '/', 'http://x').pathname.split('/').pop() ?? '';
    const blob = blobs.get(digest);
    if (!blob) return void res.writeHead(404).end();
    serveBlob(req, res, blob);
  });
  client = await FusedClient.connect(join(tmp, 'root'), {
    log: quietLog,
    config: { backgroundFetch: { enabled: false } },
    command: fusedCommand,
    startTimeoutMs: 30_000,
  });
}, 60_000);

afterAll(async () => {
  await tearDown({ pid: client?.status.pid, tmp, server });
}, 30_000);

describe('layers opened ahead', () => {
  it('mount with no request of their own, and count as reachable for the next check', async () => {
    const [lower, upper] = [...blobs.keys()];
    const reference = `${server.host}/test/image:latest`;
    const [m1, m2] = [join(tmp, 'm1'), join(tmp, 'm2')];
    await mkdir(m1);
    await mkdir(m2);
    await client.mount({ mountpoint: m1, reference, digest: lower!, following: [{ digest: upper! }] });
    const deadline = Date.now() + 10_000;
    const upperGets = () => server.requests.filter((r) => r.method === 'GET' && r.path.endsWith(upper!)).length;
    while (upperGets() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // its TOC indexed
    const before = server.requests.length;
    await client.mount({ mountpoint: m2, reference, digest: upper! });
    const checks = await client.check([m1, m2]);
    expect(checks.map((c) => c.available)).toEqual([true, true]);
    expect(server.requests.slice(before)).toEqual([]);
    expect(server.requests.filter((r) => r.method === 'HEAD')).toEqual([]);
  }, 30_000);

  it('an open hint fetches the layer before its mount request; the mount then costs no request', async () => {
    await client.unmount(join(tmp, 'm1'));
    await client.unmount(join(tmp, 'm2'));
    const [layer] = [...blobs.keys()];
    const reference = `${server.host}/test/hinted:latest`;
    const gets = () => server.requests.filter((r) => r.method === 'GET' && r.path.includes('/hinted/') && r.path.endsWith(layer!)).length;
    await client.open({ reference, digest: layer! });
    const deadline = Date.now() + 10_000;
    while (gets() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(gets()).toBeGreaterThan(0);
    const fetched = gets();
    const m3 = join(tmp, 'm3');
    await mkdir(m3);
    await client.mount({ mountpoint: m3, reference, digest: layer! });
    expect(gets()).toBe(fetched);
    // served now: another hint for it opens nothing
    const before = server.requests.length;
    await client.open({ reference, digest: layer! });
    await new Promise((r) => setTimeout(r, 200));
    expect(server.requests.slice(before)).toEqual([]);
  }, 30_000);
});
