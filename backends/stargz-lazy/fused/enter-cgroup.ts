/**
 * Moves the FUSE-serving process into cgroup `<name>` directly under the root of every cgroup
 * hierarchy mounted in its mount namespace (cgroup v2's unified one and each v1 hierarchy:
 * cpu, memory, pids, freezer, name=systemd, …), so that a kill of every process of the snaphost
 * pod's cgroups (containerd's shim does that when the pod's container stops) does not reach
 * it. Started with `fusedOnHost`, it runs in the node's mount and cgroup namespaces, where
 * these mounts are the node's.
 *
 * Each hierarchy is mounted once per superblock (`major:minor` in mountinfo; co-mounted v1
 * controllers such as cpu,cpuacct are one). A v1 cpuset cgroup starts with no CPUs and memory
 * nodes: they are copied from its parent before the process moves in. Any failure is an error
 * naming the hierarchy: a process left in the pod's cgroups would die with the pod.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface CgroupMount {
  /** `major:minor` of the hierarchy's superblock. */
  device: string;
  mountpoint: string;
  fstype: 'cgroup' | 'cgroup2';
  /** Super options (v1: the controllers, e.g. `rw,cpu,cpuacct` or `rw,name=systemd`). */
  options: string;
}

/** Cgroup cgroup names: one path segment, nothing that escapes the hierarchy's root. */
export const CGROUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The cgroup hierarchies in `/proc/self/mountinfo` text, one per superblock. */
export function cgroupMounts(mountinfo: string): CgroupMount[] {
  const seen = new Set<string>();
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const before = line.slice(0, dash).split(' ');
    const after = line.slice(dash + 3).split(' ');
    const fstype = after[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const device = before[2] ?? '';
    const mountpoint = unescape(before[4] ?? '');
    if (!device || !mountpoint || seen.has(device)) continue;
    seen.add(device);
    out.push({ device, mountpoint, fstype, options: after[2] ?? '' });
  }
  return out;
}

/**
 * Writes `pid` into `<mountpoint>/<name>/cgroup.procs` of every hierarchy (creating the cgroup).
 * `under` prefixes every mountpoint (tests point it at a fake tree). Returns the cgroup directories.
 */
export async function enterCgroup(name: string, pid: number, mountinfo: string, under = ''): Promise<string[]> {
  if (!CGROUP_NAME.test(name)) throw new Error(`fusedOnHost.cgroup: ${JSON.stringify(name)} is not a cgroup name (one path segment of letters, digits, '_', '.', '-')`);
  const mounts = cgroupMounts(mountinfo);
  if (mounts.length === 0) throw new Error('no cgroup hierarchy is mounted in the node mount namespace (no cgroup or cgroup2 line in /proc/self/mountinfo)');
  const dirs: string[] = [];
  for (const m of mounts) {
    const base = path.join(under, m.mountpoint);
    const dir = path.join(base, name);
    try {
      await mkdir(dir, { recursive: true });
      if (m.fstype === 'cgroup' && m.options.split(',').includes('cpuset')) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          const own = await readFile(path.join(dir, f), 'utf8').catch(() => undefined);
          if (own !== undefined && own.trim() === '') await writeFile(path.join(dir, f), await readFile(path.join(base, f), 'utf8'));
        }
      }
      await writeFile(path.join(dir, 'cgroup.procs'), `${pid}\n`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`cannot move the FUSE-serving process into ${dir} (${m.fstype} ${m.options}): ${e.code ?? e.message}`);
    }
    dirs.push(dir);
  }
  return dirs;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
