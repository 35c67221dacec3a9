import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMountPoint, mountAt, mountsUnder, parseMountInfo } from '../../../../core/mounts/mount-table.js';

describe('parseMountInfo', () => {
  it('reads mount point, type and source, unescaping octal escapes, skipping optional fields', () => {
    const text = [
      '51 27 0:43 / /tmp/a\\040b ro,relatime shared:1 master:2 - fuse.snaphost-stargz snaphost-stargz:sha256:ab ro,user_id=0',
      '52 27 0:44 / /merged rw - overlay overlay rw,lowerdir=/x',
      'garbage',
      '',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountpoint: '/tmp/a b', fstype: 'fuse.snaphost-stargz', source: 'snaphost-stargz:sha256:ab' },
      { mountpoint: '/merged', fstype: 'overlay', source: 'overlay' },
    ]);
  });
});

describe('mountAt / isMountPoint / mountsUnder (real mounts, needs root)', () => {
  it('finds the topmost mount at a path with a space in it, and what is below a directory', async () => {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'snaphost-mount-table-')));
    const target = path.join(dir, 'a b');
    await mkdir(target);
    try {
      expect(await isMountPoint(target)).toBe(false);
      expect(await mountAt(target)).toBeUndefined();
      execFileSync('mount', ['-t', 'tmpfs', 'first', target]);
      execFileSync('mount', ['-t', 'tmpfs', 'second', target]);
      expect(await isMountPoint(target)).toBe(true);
      expect(await mountAt(target)).toEqual({ mountpoint: target, fstype: 'tmpfs', source: 'second' });
      expect((await mountsUnder(dir)).map((m) => m.source)).toEqual(['first', 'second']);
      expect(await mountsUnder(target)).toEqual([]);
    } finally {
      while (await isMountPoint(target)) execFileSync('umount', ['-l', target]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
