/**
 * The connection handover against the real kernel (root, /dev/fuse, Linux >= 6.9 for
 * FUSE_NOTIFY_RESEND): the keeper (dist/, as it runs) runs a FUSE-serving process that mounts
 * the estargz fixture with the kernel transport (test/fixtures/fuse-kernel/handover-server.mjs);
 * while `dd` reads a file whose READ is in flight in that process, it is SIGKILLed; the keeper
 * starts it again with the kept /dev/fuse descriptor, the new process asks the kernel to resend,
 * and dd completes with the file's exact bytes (sha256) — no ENOTCONN, no EIO.
 * Needs `npm run build` (the keeper and the server run from dist/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadFuseDevice, MNT_DETACH } from '../../../../../../backends/stargz-lazy/fuse-kernel/fuse-device.js';

const app = fileURLToPath(new URL('../../../../../../', import.meta.url));
const keeperMain = join(app, 'dist/backends/stargz-lazy/fuse-kernel/keeper/main.js');
const server = join(app, 'test/fixtures/fuse-kernel/handover-server.mjs');
const blob = join(app, 'test/fixtures/estargz/full.estargz');
const [major, minor] = release().split('.').map(Number) as [number, number];
const resendKernel = major > 6 || (major === 6 && minor >= 9);
const runnable = process.getuid?.() === 0 && existsSync('/dev/fuse') && resendKernel;

interface Event {
  event: string;
  pid: number;
  [k: string]: unknown;
}

let mnt: string | undefined;
let keeper: ChildProcess | undefined;

afterEach(async () => {
  if (keeper && keeper.exitCode === null && keeper.signalCode === null) {
    keeper.kill('SIGKILL');
    await new Promise((r) => keeper!.once('close', r));
  }
  if (mnt) {
    loadFuseDevice().umount(mnt, MNT_DETACH);
    await rm(mnt, { recursive: true, force: true });
  }
  mnt = undefined;
  keeper = undefined;
});

function expectedSha(path: string): string {
  const expected = JSON.parse(readFileSync(join(app, 'test/fixtures/estargz/full.expected.json'), 'utf8')) as { entries: { name: string; sha256?: string }[] };
  return expected.entries.find((e) => e.name === path)!.sha256!.replace('sha256:', '');
}

describe.skipIf(!runnable)('the keeper hands the FUSE connection to a restarted process', () => {
  it('SIGKILL of the FUSE-serving process during a dd read: the read completes with the right bytes', async () => {
    expect(existsSync(keeperMain), `${keeperMain} missing: run npm run build`).toBe(true);
    mnt = await mkdtemp(join(tmpdir(), 'h17ho-'));
    keeper = spawn(process.execPath, [keeperMain, process.execPath, server, app, blob, mnt, '1500'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    keeper.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const events: Event[] = [];
    const waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
    createInterface({ input: keeper.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as Event;
      events.push(e);
      for (const w of waiters.splice(0)) (w.pred(e) ? w.resolve(e) : waiters.push(w));
    });
    const next = (pred: (e: Event) => boolean): Promise<Event> =>
      new Promise((resolve) => {
        const seen = events.find(pred);
        if (seen) resolve(seen);
        else waiters.push({ pred, resolve });
      });

    const mounted = await next((e) => e.event === 'mounted');
    expect(mounted.kept).toBe(0); // the keeper holds a duplicate

    const reader = spawn('sh', ['-c', `dd if="${mnt}/data/big.bin" bs=4096 status=none | sha256sum`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    reader.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    reader.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const readerDone = new Promise<number | null>((r) => reader.once('close', (code) => r(code)));

    const firstRead = await next((e) => e.event === 'read' && e.pid === mounted.pid);
    process.kill(firstRead.pid, 'SIGKILL'); // the READ is in flight in the killed process

    const resumed = await next((e) => e.event === 'resumed');
    expect(resumed.pid).not.toBe(mounted.pid);
    expect(resumed.id).toBe(mnt);
    expect(resumed.resend).toBe(16); // FUSE_NOTIFY_RESEND accepted (a bare header)
    expect(await readerDone, err).toBe(0);
    expect(err).toBe('');
    expect(out.split(' ')[0]).toBe(expectedSha('data/big.bin'));
    expect(events.some((e) => e.event === 'read' && e.pid === resumed.pid)).toBe(true); // the resent READ was answered by the new process

    keeper.kill('SIGTERM'); // forwarded: the server unmounts, releases, exits 0; the keeper follows
    const code = await new Promise<number | null>((r) => keeper!.once('close', (c) => r(c)));
    expect(code, stderr.join('')).toBe(0);
    expect(stderr.join('')).toMatch(/starting it again/);
  }, 30_000);
});
