/**
 * An unmount is bounded even when `fusermount -uz` never returns: the FUSE-serving process
 * answers, the layer is detached with `umount -l`, and the log says so. The hang is real: the
 * serving process finds a `fusermount` on its PATH that sleeps (it is killed afterwards by PID).
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { fixtures, fusedCommand, isAlive, mountsUnder, quietLog, run, stopProcess, unmountAllUnder } from './fused-env.js';

let tmp: string;
let server: BlobServer;
let digest: string;
const started = new Set<number>();

async function hungFusermountPids(): Promise<number[]> {
  const text = await readFile(join(tmp, 'fusermount.pids'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map(Number);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-unmount-'));
  const blob = await readFile(`${fixtures}full.estargz`);
  digest = sha256(blob);
  server = await startBlobServer((req, res) => serveBlob(req, res, blob));
});

afterAll(async () => {
  for (const pid of await hungFusermountPids()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  for (const pid of started) await stopProcess(pid);
  if (tmp) {
    await unmountAllUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  }
  await server?.close();
}, 30_000);

describe('unmount of a layer', () => {
  it('answers and detaches with umount -l when fusermount -uz hangs', async () => {
    const bin = join(tmp, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'fusermount'), `#!/bin/sh\necho $$ >> ${join(tmp, 'fusermount.pids')}\nexec sleep 600\n`);
    await chmod(join(bin, 'fusermount'), 0o755);
    const root = join(tmp, 'root');
    const mnt = join(tmp, 'mnt');
    await mkdir(mnt);
    // The serving process inherits this environment (spawn-fused.ts).
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path ?? ''}`;
    let client: FusedClient;
    try {
      // fusermount is fuse-native's unmount (the kernel transport calls umount2 itself).
      client = await FusedClient.connect(root, { log: quietLog, config: { fs: { transport: 'fuse-native' } }, command: fusedCommand, startTimeoutMs: 30_000 });
    } finally {
      process.env.PATH = path;
    }
    started.add(client.status.pid);
    await client.mount({ mountpoint: mnt, reference: `${server.host}/test/full:latest`, digest });
    const cat = await run('cat', [join(mnt, 'etc', 'hostname')]);
    expect(cat.stdout).toBe('fixture-host\n');

    const t0 = Date.now();
    await client.unmount(mnt);
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(await mountsUnder(mnt)).toEqual([]);
    expect(await client.list()).toEqual([]);
    expect(await hungFusermountPids()).toHaveLength(1);
    const log = await readFile(join(root, 'fused.log'), 'utf8');
    expect(log).toContain(`the FUSE unmount did not finish within 8000 ms; detaching ${mnt} with umount -l`);
    expect(log).toContain(`detached ${mnt} with umount -l`);
    expect(log).toContain('"msg":"layer unmounted"');
  }, 60_000);
});
