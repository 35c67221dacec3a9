import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMountPoint, mountsUnder } from '../../../../core/mounts/mount-table.js';
import { detachMount, unmount } from '../../../../core/mounts/unmount.js';

describe('mountsUnder / detachMount (real mounts, needs root)', () => {
  it('finds a mount strictly below a directory and detaches it', async () => {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-mount-table-')));
    const target = path.join(dir, 'snapshots', '1', 'fs');
    await mkdir(target, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', target]);
      expect(await mountsUnder(path.join(dir, 'snapshots'))).toEqual([{ mountpoint: target, fstype: 'tmpfs', source: 'tmpfs' }]);
      expect(await mountsUnder(target)).toEqual([]); // strictly below
      await detachMount(target);
      expect(await mountsUnder(dir)).toEqual([]);
    } finally {
      if ((await mountsUnder(dir)).length > 0) execFileSync('umount', ['-l', target]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('unmount (real mounts, needs root)', () => {
  it('unmounts an idle mount, and detaches a busy one lazily', async () => {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'snaphost-unmount-')));
    const idle = path.join(dir, 'idle');
    const busy = path.join(dir, 'busy');
    await mkdir(idle);
    await mkdir(busy);
    let held: Awaited<ReturnType<typeof open>> | undefined;
    try {
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', idle]);
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', busy]);
      await writeFile(path.join(busy, 'f'), 'still here');
      held = await open(path.join(busy, 'f'), 'r');
      await unmount(idle);
      expect(await isMountPoint(idle)).toBe(false);
      await unmount(busy); // umount: EBUSY (an open file), then umount -l
      expect(await isMountPoint(busy)).toBe(false);
      expect((await held.readFile('utf8'))).toBe('still here'); // the open file keeps working
    } finally {
      await held?.close();
      for (const m of (await mountsUnder(dir)).reverse()) execFileSync('umount', ['-l', m.mountpoint]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects with the error of umount -l when nothing is mounted there', async () => {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'snaphost-unmount-')));
    try {
      await expect(unmount(dir)).rejects.toThrow(`umount -l ${dir}: exited with status`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
