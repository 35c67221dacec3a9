/**
 * Reads through a layer mount, with a registry stand-in that counts requests and can serve a
 * blob with one flipped byte inside a chunk: metadata costs no registry traffic, a file whose
 * chunk does not verify gives EIO (never a wrong byte) and one log line naming the file, the
 * layer and the reason, other files read fine, and once clean data is served the file reads.
 */
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { fixtures, fusedCommand, mountsUnder, quietLog, run, tearDown } from './fused-env.js';

let tmp: string;
let server: BlobServer;
let client: FusedClient;
let mnt: string;
let good: Buffer;
let flipped: Buffer;
let serveFlipped = true;
let digest: string;
let bigSha: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-reads-'));
  good = await readFile(`${fixtures}full.estargz`);
  digest = sha256(good);
  const expected = JSON.parse(await readFile(`${fixtures}full.expected.json`, 'utf8')) as { entries: { name: string; sha256?: string }[] };
  bigSha = expected.entries.find((e) => e.name === 'data/big.bin')!.sha256!;
  // One byte flipped in the middle of the gzip member of data/big.bin's second chunk.
  const { index } = await openLayer({ size: good.length, read: async (o, l) => good.subarray(o, o + l) });
  const chunk = index.lookup('data/big.bin')!.chunks[1]!;
  flipped = Buffer.from(good);
  flipped[chunk.offset + Math.floor(chunk.compressedSize / 2)]! ^= 0xff;
  server = await startBlobServer((req, res) => serveBlob(req, res, serveFlipped ? flipped : good));
  mnt = join(tmp, 'mnt');
  await mkdir(mnt);
  client = await FusedClient.connect(join(tmp, 'root'), {
    log: quietLog,
    config: { registry: { retry: { retries: 0 } } },
    command: fusedCommand,
    startTimeoutMs: 30_000,
  });
  await client.mount({ mountpoint: mnt, reference: `${server.host}/test/full:latest`, digest });
}, 60_000);

afterAll(async () => {
  await tearDown({ pid: client?.status.pid, tmp, server });
}, 30_000);

describe('reads through a layer mount', () => {
  it('serves metadata (ls, find, stat, xattrs, readlink) without registry traffic', async () => {
    const before = server.requests.length;
    for (const [cmd, args] of [
      ['ls', ['-laR', mnt]],
      ['find', [mnt, '-printf', '%p %m %U %G %s %T@ %y %l\n']],
      ['getfattr', ['-R', '-d', '-m', '-', mnt]],
      ['readlink', [join(mnt, 'data', 'link-to-small')]],
      ['stat', [join(mnt, 'dev', 'null'), join(mnt, 'removed-file')]],
    ] as const) {
      const r = await run(cmd, [...args]);
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
    }
    expect(server.requests.slice(before)).toEqual([]);
  });

  it('a chunk that does not verify: EIO and one log line; other files read fine', async () => {
    const cat = await run('cat', [join(mnt, 'data', 'big.bin')]);
    expect(cat.code).not.toBe(0);
    expect(cat.stderr).toMatch(/Input\/output error/);
    const log = await readFile(join(tmp, 'root', 'fused.log'), 'utf8');
    const lines = log.split('\n').filter((l) => l.includes('"msg":"read of /data/big.bin'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', file: '/data/big.bin', layer: digest, code: 'UNAVAILABLE' });
    expect(String(line.msg)).toContain(`in layer ${digest} failed (EIO)`);
    expect(String(line.reason)).toMatch(/verification/);

    const small = await run('cat', [join(mnt, 'etc', 'hostname')]);
    expect(small.code, small.stderr).toBe(0);
    expect(small.stdout).toBe('fixture-host\n');
  });

  it('reads the file once the registry serves clean data again (nothing bad was kept)', async () => {
    serveFlipped = false;
    const sum = await run('sha256sum', [join(mnt, 'data', 'big.bin')]);
    expect(sum.code, sum.stderr).toBe(0);
    expect(`sha256:${sum.stdout.split(' ')[0]}`).toBe(bigSha);
    const [info] = await client.list();
    expect(info!.readErrors).toBeGreaterThanOrEqual(1);
    expect(info!.bytesRead).toBeGreaterThanOrEqual(20_000);
  });

  it('unmounts cleanly', async () => {
    await client.unmount(mnt);
    expect(await mountsUnder(mnt)).toEqual([]);
  });
});
