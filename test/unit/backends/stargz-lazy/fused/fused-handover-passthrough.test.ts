/**
 * Passthrough across a handover (root, /dev/fuse, Linux >= 6.9 with FUSE passthrough): the
 * FUSE-serving process under the connection keeper serves a layer with the kernel transport
 * (fs.passthrough defaults to true). A file read once becomes complete; a process holds it open
 * (passed through: a later `cat` with its page cache dropped does not reach JS); the serving
 * process is SIGKILLed and the keeper starts it again. While the holder still has the file open
 * the kernel keeps that inode in passthrough with the dead process's backing id, so the new
 * process must answer its opens with that same id (passthrough-state.ts, handed over by the
 * keeper): `cat` succeeds with the right bytes, still without reaching JS. (Checked the other
 * way too: taking over without that state, this `cat` fails with EIO.)
 * The keeper runs from dist/ (`npm run build`), the process from the sources (vite-node).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { fusedPid } from '../../../../../backends/stargz-lazy/fused-client/stop-fused.js';
import { keeperCommand } from '../../../../../backends/stargz-lazy/fuse-kernel/keeper/keeper-command.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { eventually, fixtures, fusedCommand, isAlive, mountsUnder, quietLog, run, tearDown } from './fused-env.js';

const [major, minor] = release().split('.').map(Number) as [number, number];
const runnable = process.getuid?.() === 0 && existsSync('/dev/fuse') && (major > 6 || (major === 6 && minor >= 9));

let tmp: string;
let server: BlobServer;
let keeperPid: number | undefined;
let holder: ChildProcess | undefined;

beforeAll(async () => {
  if (!runnable) return;
  tmp = await mkdtemp(join(tmpdir(), 'h17pt-'));
  const blob = await readFile(`${fixtures}full.estargz`);
  server = await startBlobServer((req, res) => serveBlob(req, res, blob));
});

afterAll(async () => {
  if (!runnable) return;
  holder?.kill('SIGKILL');
  await tearDown({ pid: keeperPid, tmp, server });
}, 30_000);

const config = { registry: { retry: { retries: 0 } }, fs: { transport: 'kernel' as const }, backgroundFetch: { enabled: false } };

describe.skipIf(!runnable)('passthrough across a handover of the connection', () => {
  it('a file held open with passthrough through a SIGKILL of the serving process: new opens keep passing through with the right bytes', async () => {
    const blob = await readFile(`${fixtures}full.estargz`);
    const digest = sha256(blob);
    const root = join(tmp, 'root');
    const mnt = join(tmp, 'mnt');
    await mkdir(mnt);
    const connect = () => FusedClient.connect(root, { log: quietLog, config, command: keeperCommand(fusedCommand), startTimeoutMs: 30_000 });
    const client = await connect();
    const first = client.status.pid;
    keeperPid = Number((await readFile(`/proc/${first}/status`, 'utf8')).match(/^PPid:\s+(\d+)/m)![1]);
    await client.mount({ mountpoint: mnt, reference: `${server.host}/test/full:latest`, digest });
    const file = join(mnt, 'data/big.bin');
    const reads = async (c: FusedClient) => (await c.list()).find((m) => m.mountpoint === mnt)!.reads;
    const catSha = async () => {
      await run('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']); // drop the FUSE inode's pages
      const r = await run('bash', ['-c', `set -o pipefail; cat "${file}" | sha256sum`]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split(' ')[0]!;
    };
    const expected = await catSha(); // cold: through JS
    const cold = await reads(client);
    expect(cold).toBeGreaterThan(0);
    // Complete once its chunks are cached and verified; a later open (after the first's RELEASE) passes through.
    let before = await reads(client);
    await eventually(async () => {
      before = await reads(client);
      expect(await catSha()).toBe(expected);
      return (await reads(client)) === before;
    }, 15_000, 'a read that no longer reaches JS (passthrough)');

    holder = spawn('sh', ['-c', `exec 3<"${file}"; sleep 600`], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300)); // its OPEN answered
    before = await reads(client);
    expect(await catSha()).toBe(expected);
    expect(await reads(client)).toBe(before); // the holder's open and this one: passed through

    process.kill(first, 'SIGKILL');
    await eventually(async () => ((await fusedPid(root)) ?? first) !== first, 15_000, 'the restarted process answering');
    const log = await readFile(join(root, 'fused.log'), 'utf8');
    expect(log).toMatch(/"handed":1,"taken":1,/);
    const again = await connect();
    expect(await catSha()).toBe(expected); // a plain open or a new backing id would fail (EINVAL / EBUSY) here
    expect(await reads(again)).toBe(0);
    expect(await mountsUnder(tmp)).toEqual([mnt]);

    holder.kill('SIGKILL');
    holder = undefined;
    process.kill(keeperPid, 'SIGTERM');
    await eventually(() => !isAlive(keeperPid!), 15_000, 'the keeper exiting');
    expect(await mountsUnder(tmp)).toEqual([]);
    keeperPid = undefined;
  }, 90_000);
});
