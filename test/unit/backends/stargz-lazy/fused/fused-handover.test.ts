/**
 * The FUSE-serving process itself under the connection keeper (fs.transport "kernel"; root,
 * /dev/fuse, Linux >= 6.9): a layer is mounted through the control protocol; while `dd` reads a
 * file whose chunk is still on its way from the registry (the blob server holds its answers),
 * the process is SIGKILLed. The keeper starts it again with the kept /dev/fuse descriptor; the
 * new process takes the connection over (opens the layer from the announced mount request,
 * serves the descriptor without mounting, asks the kernel to resend) and dd completes with the
 * file's exact bytes. Then `shutdownFused` (snaphost shutdown) stops both: the keeper is signalled,
 * the process unmounts, nothing is started again.
 * The keeper runs from dist/ (`npm run build`), the process from the sources (vite-node).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { fusedPid, shutdownFused } from '../../../../../backends/stargz-lazy/fused-client/stop-fused.js';
import { keeperCommand } from '../../../../../backends/stargz-lazy/fuse-kernel/keeper/keeper-command.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { eventually, fixtures, fusedCommand, isAlive, mountsUnder, quietLog, tearDown } from './fused-env.js';

const [major, minor] = release().split('.').map(Number) as [number, number];
const runnable = process.getuid?.() === 0 && existsSync('/dev/fuse') && (major > 6 || (major === 6 && minor >= 9));
const HOLD_MS = 1_500;

let tmp: string;
let server: BlobServer;
let keeperPid: number | undefined;
let hold = false;

beforeAll(async () => {
  if (!runnable) return;
  tmp = await mkdtemp(join(tmpdir(), 'h17fh-'));
  const blob = await readFile(`${fixtures}full.estargz`);
  server = await startBlobServer((req, res) => {
    if (hold) setTimeout(() => serveBlob(req, res, blob), HOLD_MS);
    else serveBlob(req, res, blob);
  });
});

afterAll(async () => {
  if (!runnable) return;
  await tearDown({ pid: keeperPid, tmp, server });
}, 30_000);

describe.skipIf(!runnable)('fused under the connection keeper', () => {
  it('SIGKILL during a dd read of a lazily pulled file: the read completes with the right bytes', async () => {
    const blob = await readFile(`${fixtures}full.estargz`);
    const digest = sha256(blob);
    const expected = JSON.parse(await readFile(`${fixtures}full.expected.json`, 'utf8')) as { entries: { name: string; sha256?: string }[] };
    const bigSha = expected.entries.find((e) => e.name === 'data/big.bin')!.sha256!.replace('sha256:', '');
    const root = join(tmp, 'root');
    const mnt = join(tmp, 'mnt');
    await mkdir(mnt);
    const client = await FusedClient.connect(root, {
      log: quietLog,
      config: { registry: { retry: { retries: 0 } }, fs: { transport: 'kernel' }, backgroundFetch: { enabled: false } },
      command: keeperCommand(fusedCommand),
      startTimeoutMs: 30_000,
    });
    const first = client.status.pid;
    keeperPid = Number((await readFile(`/proc/${first}/status`, 'utf8')).match(/^PPid:\s+(\d+)/m)![1]);
    expect(await readFile(`/proc/${keeperPid}/cmdline`, 'utf8')).toContain('keeper/main.js');
    await client.mount({ mountpoint: mnt, reference: `${server.host}/test/full:latest`, digest });

    hold = true;
    const asked = server.requests.length;
    const reader = spawn('sh', ['-c', `dd if="${mnt}/data/big.bin" bs=4096 status=none | sha256sum`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    reader.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    reader.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<number | null>((r) => reader.once('close', (code) => r(code)));
    await eventually(() => server.requests.length > asked, 10_000, 'the read reaching the registry');
    process.kill(first, 'SIGKILL'); // its chunk fetch (and so the READ) is in flight
    expect(await done, err).toBe(0);
    expect(out.split(' ')[0]).toBe(bigSha);

    await eventually(async () => ((await fusedPid(root)) ?? first) !== first, 15_000, 'the restarted process answering');
    const log = await readFile(join(root, 'fused.log'), 'utf8');
    expect(log).toMatch(/the FUSE-serving process died; starting it again/);
    expect(log).toMatch(/"handed":1,"taken":1,.*took the layer connections of the previous process over/);
    expect(await mountsUnder(tmp)).toEqual([mnt]);
    hold = false;

    // `snaphost shutdown`'s stop: SIGTERM goes to the keeper, which forwards it and starts nothing again.
    const stopped = await shutdownFused(root, { timeoutMs: 15_000 });
    expect(stopped).toMatchObject({ killed: false, detached: 0, stuck: [] });
    await eventually(() => !isAlive(keeperPid!), 15_000, 'the keeper exiting');
    expect(await mountsUnder(tmp)).toEqual([]);
    keeperPid = undefined;
  }, 60_000);
});
