/**
 * The FUSE-serving process outlives the process that started it (snaphost restarts while
 * containers keep reading), racing starts end with one process per root, and a process that
 * serves no layer with no client attached exits after `idleExitMs`.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { fusedCommand, fusedTestBed, isAlive, mountsUnder, quietLog, repo, run, stopProcess } from './fused-env.js';

const bed = fusedTestBed('snaphost-fused-life-');

function runClientProcess(root: string, mountpoint: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [`${repo}node_modules/vite-node/dist/cli.mjs`, '--root', repo, `${repo}test/unit/backends/stargz-lazy/fused/connect-and-exit.ts`], {
    env: {
      ...process.env,
      SNAPHOST_FUSED_ROOT: root,
      SNAPHOST_FUSED_MOUNTPOINT: mountpoint,
      SNAPHOST_FUSED_REFERENCE: `${bed.server.host}/test/full:latest`,
      SNAPHOST_FUSED_DIGEST: bed.digest,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('the FUSE-serving process lifecycle', () => {
  it('keeps serving after the client process that bed.started it exits', async () => {
    const root = join(bed.tmp, 'root');
    const mnt = join(bed.tmp, 'mnt');
    await mkdir(mnt);
    const client = await runClientProcess(root, mnt);
    expect(client.code, client.stderr).toBe(0);
    const pid = Number(client.stdout.trim());
    bed.started.add(pid);
    expect(isAlive(pid)).toBe(true);
    expect(await mountsUnder(mnt)).toEqual([mnt]);
    const cat = await run('cat', [join(mnt, 'etc', 'hostname')]);
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toBe('fixture-host\n');

    const again = await FusedClient.connect(root, { log: quietLog, config: {}, command: fusedCommand, spawn: false });
    expect(again.status.pid).toBe(pid);
    expect((await again.list()).map((m) => m.mountpoint)).toEqual([mnt]);
    await again.unmount(mnt);
    expect(await mountsUnder(mnt)).toEqual([]);
    await stopProcess(pid);
    expect(isAlive(pid)).toBe(false);
  }, 60_000);

  it('starts one process per root when clients race; a second process refuses the root', async () => {
    const root = join(bed.tmp, 'race-root');
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => FusedClient.connect(root, { log: quietLog, config: {}, command: fusedCommand, startTimeoutMs: 30_000 })),
    );
    const clients = results.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
    const pids = new Set(clients.map((c) => c.status.pid));
    for (const pid of pids) bed.started.add(pid);
    expect(pids.size).toBe(1);
    const [pid] = pids;
    // A second process bed.started by hand for the same root refuses to run (exit status 3).
    const second = await run(fusedCommand[0]!, [...fusedCommand.slice(1), '--root', root]);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/another FUSE-serving process \(pid \d+\) already serves/);
    const log = await readFile(join(root, 'fused.log'), 'utf8');
    expect(log.match(/FUSE-serving process ready/g)).toHaveLength(1);
    expect(isAlive(pid!)).toBe(true);
    expect((await FusedClient.connect(root, { log: quietLog, config: {}, spawn: false })).status.pid).toBe(pid);
    await stopProcess(pid!);
  }, 60_000);

  it('spawn: false does not start anything', async () => {
    await expect(
      FusedClient.connect(join(bed.tmp, 'never-bed.started'), { log: quietLog, config: {}, command: fusedCommand, spawn: false }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'FUSED_UNREACHABLE' });
  });

  it('exits once idle: no layer served, no client attached, for idleExitMs; an attached client or a mounted layer keeps it', async () => {
    const root = join(bed.tmp, 'idle-root');
    const mnt = join(bed.tmp, 'idle-mnt');
    await mkdir(mnt);
    const config = { idleExitMs: 300 };
    const first = await FusedClient.connect(root, { log: quietLog, config, command: fusedCommand });
    const pid = first.status.pid;
    bed.started.add(pid);
    await first.waitWarm(20_000);
    expect(await readFile(join(root, 'fused.log'), 'utf8')).toMatch(/"stopped":false,"msg":"warm-up over"/);
    await sleep(1_000);
    expect(isAlive(pid)).toBe(true); // attached
    await first.mount({ mountpoint: mnt, reference: `${bed.server.host}/test/full:latest`, digest: bed.digest });
    await first.close();
    await sleep(1_000);
    expect(isAlive(pid)).toBe(true); // serves a layer
    const second = await FusedClient.connect(root, { log: quietLog, config, command: fusedCommand, spawn: false });
    expect(second.status.pid).toBe(pid);
    await second.unmount(mnt);
    await sleep(1_000);
    expect(isAlive(pid)).toBe(true); // attached again
    await second.close();
    await waitFor(() => !isAlive(pid), 10_000);
    expect(isAlive(pid)).toBe(false);
    expect(await readFile(join(root, 'fused.log'), 'utf8')).toContain('no layer served and no snaphost attached: exiting');
  }, 60_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok() && Date.now() < deadline) await sleep(50);
}

