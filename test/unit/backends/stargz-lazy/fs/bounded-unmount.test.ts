/**
 * A lazy unmount that hangs or fails never leaves its caller waiting: the mount table decides,
 * and a mount that is still ours is detached with `umount -l`. Real tmpfs mounts stand in for
 * the FUSE file system (matched by fstype and source like the real one).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { boundedUnmount } from '../../../../../backends/stargz-lazy/fs/bounded-unmount.js';
import { parseMountInfo } from '../../../../../core/mounts/mount-table.js';

const exec = promisify(execFile);
const SOURCE = 'snaphost-detach-test';
let tmp: string;
let n = 0;

function capture(): { log: pino.Logger; lines: () => { level: number; msg: string }[] } {
  const out: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

async function mountsAt(dir: string): Promise<{ fstype: string; source: string }[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountpoint === dir);
}

async function tmpfsAt(source: string): Promise<string> {
  const dir = join(tmp, `mnt-${++n}`);
  await mkdir(dir);
  await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', source, dir]);
  return dir;
}

const never = (): Promise<void> => new Promise<void>(() => undefined);

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-detach-'));
});

afterEach(async () => {
  for (const m of parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'))) {
    if (m.mountpoint.startsWith(`${tmp}/`)) await exec('umount', ['-l', m.mountpoint]);
  }
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('boundedUnmount', () => {
  it('returns as soon as the primary unmount does, without a fallback', async () => {
    const mp = await tmpfsAt(SOURCE);
    const { log, lines } = capture();
    await boundedUnmount(mp, () => exec('umount', ['-l', mp]).then(() => undefined), { fstype: 'tmpfs', source: SOURCE, timeoutMs: 5_000, log });
    expect(await mountsAt(mp)).toEqual([]);
    expect(lines()).toEqual([]);
  });

  it('detaches with umount -l, and says so, when the primary unmount never finishes', async () => {
    const mp = await tmpfsAt(SOURCE);
    const { log, lines } = capture();
    const started = Date.now();
    await boundedUnmount(mp, never, { fstype: 'tmpfs', source: SOURCE, timeoutMs: 300, log });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await mountsAt(mp)).toEqual([]);
    expect(lines().map((l) => l.msg)).toEqual([
      `the FUSE unmount did not finish within 300 ms; detaching ${mp} with umount -l`,
      `detached ${mp} with umount -l`,
    ]);
  });

  it('detaches with umount -l when the primary unmount fails while the mount is still there', async () => {
    const mp = await tmpfsAt(SOURCE);
    const { log, lines } = capture();
    await boundedUnmount(mp, () => Promise.reject(new Error('fusermount: boom')), { fstype: 'tmpfs', source: SOURCE, timeoutMs: 5_000, log });
    expect(await mountsAt(mp)).toEqual([]);
    expect(lines()[0]?.msg).toBe(`the FUSE unmount failed: fusermount: boom; detaching ${mp} with umount -l`);
  });

  it('is done when the primary unmount failed but the mount is already gone', async () => {
    const mp = join(tmp, 'never-mounted');
    await mkdir(mp);
    const { log, lines } = capture();
    await boundedUnmount(mp, () => Promise.reject(new Error('not mounted')), { fstype: 'tmpfs', source: SOURCE, timeoutMs: 5_000, log });
    expect(lines().map((l) => l.msg)).toEqual([
      `the FUSE unmount failed: not mounted; the layer is no longer mounted at ${mp} (mount table shows nothing)`,
    ]);
  });

  it('leaves another file system mounted at the mountpoint alone', async () => {
    const mp = await tmpfsAt('someone-else');
    const { log, lines } = capture();
    await boundedUnmount(mp, never, { fstype: 'tmpfs', source: SOURCE, timeoutMs: 300, log });
    expect(await mountsAt(mp)).toEqual([expect.objectContaining({ fstype: 'tmpfs', source: 'someone-else' })]);
    expect(lines()[0]?.msg).toMatch(/no longer mounted at .* \(mount table shows tmpfs from someone-else\)$/);
  });
});
