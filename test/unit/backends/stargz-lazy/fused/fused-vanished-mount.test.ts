/**
 * The real FUSE-serving process, a layer mounted from a loopback blob server, and changes made
 * behind its back: its mount removed with `umount -l` (it notices, logs the mountpoint and
 * layer, releases it and exits under the idle rule), and its root directory removed (it keeps
 * serving the layer a container may be reading, and exits as soon as that mount is gone too,
 * attached client or not).
 */
import { mkdir, open, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { eventually, fusedCommand, fusedTestBed, isAlive, mountsUnder, quietLog, run } from './fused-env.js';

const bed = fusedTestBed('snaphost-fused-vanished-');

/** Descriptors of `pid` open on /dev/fuse (0 once it has exited). */
async function fuseFds(pid: number): Promise<number> {
  try {
    const fds = await readdir(`/proc/${pid}/fd`);
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
    return targets.filter((t) => t === '/dev/fuse').length;
  } catch {
    return 0;
  }
}

describe('the FUSE-serving process and changes from outside', () => {
  it('notices a layer mount removed with umount -l, logs it, releases the layer and exits when idle', async () => {
    const root = join(bed.tmp, 'root');
    const mnt = join(bed.tmp, 'mnt');
    await mkdir(mnt);
    const config = { idleExitMs: 500, outsideCheckMs: 100 };
    const client = await FusedClient.connect(root, { log: quietLog, config, command: fusedCommand, startTimeoutMs: 30_000 });
    const pid = client.status.pid;
    bed.started.add(pid);
    await client.mount({ mountpoint: mnt, reference: `${bed.server.host}/test/full:latest`, digest: bed.digest });
    await client.close();
    expect((await run('cat', [join(mnt, 'etc', 'hostname')])).stdout).toBe('fixture-host\n');
    expect(await fuseFds(pid)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(isAlive(pid)).toBe(true); // it serves a layer

    const umount = await run('umount', ['-l', mnt]);
    expect(umount.code, umount.stderr).toBe(0);
    const removedAt = Date.now();
    // Bound: a look every 100 ms, then 500 ms idle, each checked every 125 ms; 15 s is generous on a loaded machine.
    await eventually(() => !isAlive(pid), 15_000, 'the process exiting');
    const exitMs = Date.now() - removedAt;
    expect(exitMs).toBeLessThan(15_000);
    const lines = (await readFile(join(root, 'fused.log'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const vanished = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('was removed from outside'));
    expect(vanished).toMatchObject({ level: 'warn', mountpoint: mnt, layer: bed.digest, mounts: 0 });
    expect(lines.some((l) => l.msg === 'no layer served and no snaphost attached: exiting')).toBe(true);
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
    expect(await fuseFds(pid)).toBe(0);
  }, 60_000);

  it('keeps serving after its root directory is removed, then exits once its last mount is gone, attached client or not', async () => {
    const root = join(bed.tmp, 'orphan-root');
    const mnt = join(bed.tmp, 'orphan-mnt');
    await mkdir(mnt);
    // A long idle bound: the exit below must not come from the idle rule.
    const config = { idleExitMs: 600_000, outsideCheckMs: 100 };
    const client = await FusedClient.connect(root, { log: quietLog, config, command: fusedCommand, startTimeoutMs: 30_000 });
    const pid = client.status.pid;
    bed.started.add(pid);
    try {
      await client.mount({ mountpoint: mnt, reference: `${bed.server.host}/test/full:latest`, digest: bed.digest });
      const log = await open(join(root, 'fused.log'), 'r'); // read after the file is unlinked
      try {
        await rm(root, { recursive: true, force: true });
        // Each readFile of the handle goes on from where the last one stopped.
        let text = '';
        await eventually(async () => (text += await log.readFile('utf8')).includes('was removed: no client can reach this process'), 10_000, 'the removal noticed');
        expect(isAlive(pid)).toBe(true); // a container may be reading the layer
        const cat = await run('cat', [join(mnt, 'etc', 'hostname')]);
        expect(cat.stdout, cat.stderr).toBe('fixture-host\n');

        expect((await run('umount', ['-l', mnt])).code).toBe(0);
        await eventually(() => !isAlive(pid), 15_000, 'the process exiting');
        text += await log.readFile('utf8');
        expect(text).toContain('released the layer');
        expect(text).toContain('unreachable and serving no layer: exiting');
        expect(await mountsUnder(mnt)).toEqual([]);
      } finally {
        await log.close();
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);
});
