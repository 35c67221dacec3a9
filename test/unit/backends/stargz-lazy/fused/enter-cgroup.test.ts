/**
 * `enterCgroup` against a fake cgroup tree in a temporary directory: a hybrid node (v1
 * hierarchies, co-mounted cpu,cpuacct seen twice, name=systemd, and the unified v2 one) gets
 * `<name>` under each hierarchy's root with the PID in cgroup.procs; a v1 cpuset cgroup gets
 * its parent's CPUs and memory nodes first; bad names and unwritable hierarchies are errors
 * naming what is wrong.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupMounts, enterCgroup } from '../../../../../backends/stargz-lazy/fused/enter-cgroup.js';

const HYBRID = [
  '22 1 0:20 / / rw,relatime - ext4 /dev/vda rw',
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '32 30 0:28 / /sys/fs/cgroup/cpu\\040alias rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '36 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
  '',
].join('\n');

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-cgroup-'));
  for (const d of ['cpu,cpuacct', 'cpuset', 'systemd', 'unified']) await mkdir(join(tmp, 'sys/fs/cgroup', d), { recursive: true });
  await writeFile(join(tmp, 'sys/fs/cgroup/cpuset/cpuset.cpus'), '0-1\n');
  await writeFile(join(tmp, 'sys/fs/cgroup/cpuset/cpuset.mems'), '0\n');
  // A fresh v1 cpuset cgroup has empty cpus and mems (the kernel makes the files).
  await mkdir(join(tmp, 'sys/fs/cgroup/cpuset/fused'));
  await writeFile(join(tmp, 'sys/fs/cgroup/cpuset/fused/cpuset.cpus'), '\n');
  await writeFile(join(tmp, 'sys/fs/cgroup/cpuset/fused/cpuset.mems'), '\n');
});
afterEach(async () => rm(tmp, { recursive: true, force: true }));

describe('cgroupMounts', () => {
  it('lists each hierarchy once, by superblock, with escaped mountpoints decoded', () => {
    const mounts = cgroupMounts(HYBRID);
    expect(mounts.map((m) => [m.mountpoint, m.fstype])).toEqual([
      ['/sys/fs/cgroup/cpu,cpuacct', 'cgroup'],
      ['/sys/fs/cgroup/cpuset', 'cgroup'],
      ['/sys/fs/cgroup/systemd', 'cgroup'],
      ['/sys/fs/cgroup/unified', 'cgroup2'],
    ]);
    expect(cgroupMounts('32 30 0:9 / /a\\040b rw - cgroup2 cgroup2 rw')[0]!.mountpoint).toBe('/a b');
  });
});

describe('enterCgroup', () => {
  it('writes the PID into <name>/cgroup.procs under every hierarchy and fills a cpuset first', async () => {
    const dirs = await enterCgroup('fused', 4242, HYBRID, tmp);
    expect(dirs).toHaveLength(4);
    for (const d of ['cpu,cpuacct', 'cpuset', 'systemd', 'unified']) {
      expect(await readFile(join(tmp, 'sys/fs/cgroup', d, 'fused/cgroup.procs'), 'utf8')).toBe('4242\n');
    }
    expect(await readFile(join(tmp, 'sys/fs/cgroup/cpuset/fused/cpuset.cpus'), 'utf8')).toBe('0-1\n');
    expect(await readFile(join(tmp, 'sys/fs/cgroup/cpuset/fused/cpuset.mems'), 'utf8')).toBe('0\n');
  });

  it('refuses a name that is not one path segment', async () => {
    for (const bad of ['../escape', 'a/b', '', '.hidden', 'x'.repeat(200)]) {
      await expect(enterCgroup(bad, 1, HYBRID, tmp)).rejects.toThrow(/is not a cgroup name/);
    }
  });

  it('fails naming the hierarchy it cannot write, and when none is mounted', async () => {
    await writeFile(join(tmp, 'sys/fs/cgroup/systemd/blocked'), 'a file where the cgroup should be');
    await expect(enterCgroup('blocked', 1, HYBRID, tmp)).rejects.toThrow(/systemd\/blocked \(cgroup rw,name=systemd\)/);
    await expect(enterCgroup('fused', 1, '22 1 0:20 / / rw - ext4 /dev/vda rw\n', tmp)).rejects.toThrow(/no cgroup hierarchy is mounted/);
  });
});
