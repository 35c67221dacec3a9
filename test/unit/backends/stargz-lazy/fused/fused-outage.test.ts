/**
 * A registry outage under a layer mount of the real FUSE-serving process (run from source):
 * cached files keep reading; an uncached read fails with EIO within `fs.readTimeoutMs` whether
 * the registry refuses connections or accepts and never answers (the read's deadline wins over
 * the client's retries); `POST /v1/check` says unavailable with the host, the errno and the
 * cached share, within a few seconds even for a hung registry, memoized; when the registry
 * comes back on the same port the file reads correctly without restarting anything. A layer
 * read in full stays available while its registry is down. `GET /v1/metrics` moves.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { fixtures, fusedCommand, quietLog, run, tearDown } from './fused-env.js';

const READ_TIMEOUT_MS = 3_000;
/** Process start-up of `cat`/`sha256sum` and FUSE round trips on a loaded machine. */
const SLACK_MS = 1_500;
/** The process reuses a probe's answer this long (served-mounts.ts). */
const REACHABILITY_TTL_MS = 3_000;

let tmp: string;
let server: BlobServer;
let port: number;
let client: FusedClient;
let mnt: string;
let digest: string;
let bigSha: string;
let hostnameSha: string;
let mode: 'up' | 'hang' = 'up';
const hanging: ServerResponse[] = [];

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

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-outage-'));
  const blob = await readFile(`${fixtures}full.estargz`);
  digest = sha256(blob);
  const expected = JSON.parse(await readFile(`${fixtures}full.expected.json`, 'utf8')) as { entries: { name: string; sha256?: string }[] };
  bigSha = expected.entries.find((e) => e.name === 'data/big.bin')!.sha256!;
  hostnameSha = expected.entries.find((e) => e.name === 'etc/hostname')!.sha256!;
  server = await startBlobServer((req, res) => {
    if (mode === 'hang') {
      hanging.push(res);
      return;
    }
    serveBlob(req, res, blob);
  });
  port = Number(server.host.split(':')[1]);
  mnt = join(tmp, 'mnt');
  await mkdir(mnt);
  client = await FusedClient.connect(join(tmp, 'root'), {
    log: quietLog,
    // Default registry retries (4, up to 30 s in all): the read's deadline must still win.
    config: { fs: { readTimeoutMs: READ_TIMEOUT_MS, regionBytes: 0 }, backgroundFetch: { enabled: false } },
    command: fusedCommand,
    startTimeoutMs: 30_000,
  });
  await client.mount({ mountpoint: mnt, reference: `${server.host}/test/full:latest`, digest });
}, 60_000);

afterAll(async () => {
  mode = 'up';
  for (const res of hanging.splice(0)) res.destroy();
  await tearDown({ pid: client?.status.pid, tmp, server });
}, 30_000);

describe('a registry outage under a mounted layer', () => {
  it('while the registry answers: the layer is available, partly cached', async () => {
    expect((await run('cat', [join(mnt, 'etc', 'hostname')])).code).toBe(0);
    const [c] = await client.check([mnt]);
    expect(c).toMatchObject({ mountpoint: mnt, served: true, digest, available: true });
    expect(c!.totalBytes).toBeGreaterThan(c!.fetchedBytes);
    expect(c!.fetchedBytes).toBeGreaterThan(0);
  });

  it('registry refusing connections: cached files read, an uncached read is EIO within the bound', async () => {
    await registryDown();
    const cached = await run('cat', [join(mnt, 'etc', 'hostname')]);
    expect(cached.code, cached.stderr).toBe(0);
    expect(`sha256:${createHash('sha256').update(cached.stdout).digest('hex')}`).toBe(hostnameSha);
    const { value: r, ms } = await timed(() => run('cat', [join(mnt, 'data', 'big.bin')]));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Input\/output error/);
    expect(ms).toBeLessThan(READ_TIMEOUT_MS + SLACK_MS);
  }, 20_000);

  it('check: unavailable, naming the registry, the errno and the cached share; a burst costs one probe', async () => {
    await sleep(REACHABILITY_TTL_MS);
    const before = (await client.metrics()).probes;
    const answers = await Promise.all([client.check([mnt]), client.check([mnt]), client.check([mnt])]);
    for (const [c] of answers) {
      expect(c).toMatchObject({ served: true, available: false });
      expect(c!.reason).toMatch(new RegExp(`registry ${server.host.replace(/\./g, '\\.')} unreachable: .*ECONNREFUSED.*; \\d+ percent of the layer is cached`));
    }
    expect((await client.metrics()).probes - before).toBe(1);
    const [again] = await client.check([mnt]);
    expect(again!.available).toBe(false);
    expect((await client.metrics()).probes - before).toBe(1);
  });

  it('check of a mountpoint the process does not serve: unavailable, not served', async () => {
    const [c] = await client.check([join(tmp, 'nothing-here')]);
    expect(c).toMatchObject({ served: false, available: false, reason: 'not served by the FUSE-serving process' });
  });

  it('registry accepting but never answering: the read is EIO at its deadline, the check answers in a few seconds', async () => {
    mode = 'hang';
    await registryUp();
    const { value: r, ms } = await timed(() => run('cat', [join(mnt, 'data', 'big.bin')]));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Input\/output error/);
    expect(ms).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(READ_TIMEOUT_MS + SLACK_MS);
    await sleep(REACHABILITY_TTL_MS);
    const { value: checks, ms: checkMs } = await timed(() => client.check([mnt]));
    expect(checks[0]!.available).toBe(false);
    expect(checks[0]!.reason).toMatch(/unreachable: no answer within 2000 ms/);
    expect(checkMs).toBeLessThan(4_000);
  }, 30_000);

  it('the registry back on the same port: the file reads correctly, the layer is available again', async () => {
    mode = 'up';
    for (const res of hanging.splice(0)) res.destroy();
    const r = await run('sha256sum', [join(mnt, 'data', 'big.bin')]);
    expect(r.code, r.stderr).toBe(0);
    expect(`sha256:${r.stdout.split(' ')[0]}`).toBe(bigSha);
    await sleep(REACHABILITY_TTL_MS);
    const [c] = await client.check([mnt]);
    expect(c!.available).toBe(true);
  }, 20_000);

  it('a layer read in full stays available while its registry is down', async () => {
    const all = await run('sh', ['-c', `find ${mnt} -type f -exec cat {} + >/dev/null`]);
    expect(all.code, all.stderr).toBe(0);
    const [full] = await client.check([mnt]);
    expect(full!.fetchedBytes).toBe(full!.totalBytes);
    await registryDown();
    try {
      const [c] = await client.check([mnt]);
      expect(c).toMatchObject({ available: true, fetchedBytes: full!.totalBytes });
      const r = await run('sha256sum', [join(mnt, 'data', 'big.bin')]);
      expect(`sha256:${r.stdout.split(' ')[0]}`).toBe(bigSha);
    } finally {
      await registryUp();
    }
  }, 20_000);

  it('metrics: registry bytes, cache hits and misses, read latency, probes', async () => {
    const m = await client.metrics();
    expect(m.registryBytes).toBeGreaterThan(0);
    expect(m.registryReads).toBeGreaterThan(0);
    expect(m.cache.hits).toBeGreaterThan(0);
    expect(m.cache.misses).toBeGreaterThan(0);
    expect(m.cache.diskBytes).toBeGreaterThan(0);
    expect(m.readLatency.count).toBeGreaterThan(0);
    const last = m.readLatency.buckets[m.readLatency.buckets.length - 1]!;
    expect(last.count).toBeLessThanOrEqual(m.readLatency.count);
    // The two EIO reads waited for the registry (up to the deadline): they are in the slow buckets.
    const underOneSecond = m.readLatency.buckets.find((b) => b.le === 1)!.count;
    expect(m.readLatency.count - underOneSecond).toBeGreaterThanOrEqual(1);
    const list = await client.list();
    expect(list[0]).toMatchObject({ mountpoint: mnt, fetchedBytes: list[0]!.totalBytes });
  });
});
