/**
 * The FUSE-serving process wires the background fetch and the cache cap from its configuration:
 * a mounted layer is fetched whole without any read (progress in the mount list, `complete`),
 * after which it is available with its registry gone and reads right; the cap is reported.
 */
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { layerCheckSchema, metricsSchema, mountInfoSchema } from '../../../../../backends/stargz-lazy/protocol/control-protocol.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { eventually, fixtures, fusedCommand, quietLog, run, tearDown } from './fused-env.js';

const CAP = 64 * 1024 * 1024;
let tmp: string;
let server: BlobServer;
let client: FusedClient;
let mnt: string;
let digest: string;
let bigSha: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-background-'));
  const blob = await readFile(`${fixtures}full.estargz`);
  digest = sha256(blob);
  const expected = JSON.parse(await readFile(`${fixtures}full.expected.json`, 'utf8')) as { entries: { name: string; sha256?: string }[] };
  bigSha = expected.entries.find((e) => e.name === 'data/big.bin')!.sha256!;
  server = await startBlobServer((req, res) => serveBlob(req, res, blob));
  mnt = join(tmp, 'mnt');
  await mkdir(mnt);
  client = await FusedClient.connect(join(tmp, 'root'), {
    log: quietLog,
    config: { cache: { diskBytes: CAP }, backgroundFetch: { enabled: true, startDelayMs: 0, quietMs: 0, concurrency: 1 } },
    command: fusedCommand,
    startTimeoutMs: 30_000,
  });
  await client.mount({ mountpoint: mnt, reference: `${server.host}/test/full:latest`, digest });
}, 60_000);

afterAll(async () => {
  await tearDown({ pid: client?.status.pid, tmp, server });
}, 30_000);

describe('background fetch and cache cap in the FUSE-serving process', () => {
  it('fetches the mounted layer whole without a read, and says so in the mount list', async () => {
    await eventually(async () => (await client.list())[0]?.background?.state === 'complete', 20_000, 'background fetch complete');
    const [m] = await client.list();
    expect(mountInfoSchema.strict().parse(m)).toEqual(m);
    expect(m!.background).toEqual({ state: 'complete', fetchedBytes: m!.totalBytes, totalBytes: m!.totalBytes });
    expect(m!.fetchedBytes).toBe(m!.totalBytes);
    expect(m!.reads).toBe(0);
    const log = await readFile(join(tmp, 'root', 'fused.log'), 'utf8');
    expect(log).toMatch(/"percent":100/);
  }, 30_000);

  it('the layer no longer needs its registry: available and read right with the registry gone', async () => {
    await server.close();
    const [c] = await client.check([mnt]);
    expect(layerCheckSchema.strict().parse(c)).toEqual(c);
    expect(c).toMatchObject({ available: true, served: true });
    const r = await run('sha256sum', [join(mnt, 'data', 'big.bin')]);
    expect(r.code, r.stderr).toBe(0);
    expect(`sha256:${r.stdout.split(' ')[0]}`).toBe(bigSha);
  }, 20_000);

  it('reports the cache cap and its size under it', async () => {
    const m = await client.metrics();
    expect(metricsSchema.strict().parse(m)).toEqual(m);
    expect(m.cache.diskLimitBytes).toBe(CAP);
    expect(m.cache.diskBytes).toBeGreaterThan(0);
    expect(m.cache.diskBytes).toBeLessThanOrEqual(CAP);
  });
});
