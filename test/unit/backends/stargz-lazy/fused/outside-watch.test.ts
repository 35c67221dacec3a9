/** The periodic look at mounts removed from outside and at the root and socket (outside-watch.ts), on a fake mount table. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { MountInfoEntry } from '../../../../../core/mounts/mount-table.js';
import { vanishedMounts, watchOutside, type ExpectedMount } from '../../../../../backends/stargz-lazy/fused/outside-watch.js';

const ours = (mountpoint: string, digest: string): ExpectedMount => ({ mountpoint, fstype: 'fuse.snaphost-stargz', source: `snaphost-stargz:${digest}` });
const entry = (m: ExpectedMount): MountInfoEntry => ({ mountpoint: m.mountpoint, fstype: m.fstype, source: m.source });
const log = pino({ level: 'silent' });
let dir: string | undefined;

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('vanishedMounts', () => {
  it('lists the served mounts the table no longer shows, also when another mount sits on top of ours or another layer took the place', () => {
    const a = ours('/s/1/fs', 'sha256:a');
    const b = ours('/s/2/fs', 'sha256:b');
    const c = ours('/s/3/fs', 'sha256:c');
    const table = [entry(a), { mountpoint: '/s/1/fs', fstype: 'overlay', source: 'overlay' }, entry(ours('/s/3/fs', 'sha256:other'))];
    expect(vanishedMounts(table, [a, b, c])).toEqual(['/s/2/fs', '/s/3/fs']);
    expect(vanishedMounts([], [])).toEqual([]);
  });
});

describe('watchOutside', () => {
  it('reports a vanished mount and, once, a removed socket; 0 never looks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'snaphost-outside-'));
    const socket = join(dir, 'fused.sock');
    await writeFile(socket, '');
    const a = ours('/s/1/fs', 'sha256:a');
    let table: MountInfoEntry[] = [entry(a)];
    const vanished: string[] = [];
    const orphaned: string[] = [];
    let checks = 0;
    const watch = await watchOutside({
      everyMs: 10,
      root: dir,
      socket,
      served: () => [a],
      onVanished: (mp) => vanished.push(mp),
      onOrphaned: (r) => orphaned.push(r),
      afterCheck: () => checks++,
      log,
      readTable: () => Promise.resolve(table),
    });
    try {
      await until(() => checks >= 3);
      expect(vanished).toEqual([]);
      table = [];
      await until(() => vanished.length > 0);
      expect(vanished[0]).toBe('/s/1/fs');
      await rm(socket);
      await until(() => orphaned.length > 0);
      const at = checks;
      await until(() => checks >= at + 3);
      expect(orphaned).toEqual([`the control socket ${socket} was removed`]);
    } finally {
      watch.stop();
    }
    let never = 0;
    const off = await watchOutside({ everyMs: 0, root: dir, socket, served: () => [a], onVanished: () => never++, onOrphaned: () => never++, log, readTable: () => Promise.resolve([]) });
    await new Promise((r) => setTimeout(r, 50));
    off.stop();
    expect(never).toBe(0);
  });
});

async function until(ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
