import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detachMount, mountsUnder } from '../../../../../backends/stargz-lazy/snapshotter/mount-table.js';

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
