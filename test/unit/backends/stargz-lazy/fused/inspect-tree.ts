/**
 * A tree as `stat`, `readlink`, `getfattr` and `sha256sum` see it, each run as a child process
 * (the FUSE mount is looked at from outside, as a container would), and the check of such a
 * tree against a fixture's `.expected.json` (what the eStargz writer was given).
 */
import { expect } from 'vitest';
import { run } from './fused-env.js';

export interface Seen {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  mtime: number;
  major: number;
  minor: number;
  target?: string;
  sha256?: string;
  xattrs: Record<string, string>;
}

export interface ExpectedEntry {
  name: string;
  type: 'dir' | 'reg' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkName?: string;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Record<string, string>;
  sha256?: string;
}

const S_IFMT = 0o170000;
export const TYPE_BITS = { dir: 0o040000, reg: 0o100000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000 } as const;

/** Every entry under `root` by relative path. */
export async function inspectTree(root: string): Promise<Map<string, Seen>> {
  const st = await run('find', [root, '-mindepth', '1', '-exec', 'stat', '--printf', '%n\\t%i\\t%f\\t%u\\t%g\\t%s\\t%h\\t%Y\\t%t\\t%T\\n', '{}', '+']);
  expect(st.stderr).toBe('');
  const seen = new Map<string, Seen>();
  for (const line of st.stdout.trim().split('\n')) {
    const [path, ino, mode, uid, gid, size, nlink, mtime, major, minor] = line.split('\t') as string[];
    seen.set(path!.slice(root.length + 1), {
      ino: Number(ino),
      mode: parseInt(mode!, 16),
      uid: Number(uid),
      gid: Number(gid),
      size: Number(size),
      nlink: Number(nlink),
      mtime: Number(mtime),
      major: parseInt(major!, 16),
      minor: parseInt(minor!, 16),
      xattrs: {},
    });
  }
  for (const [rel, s] of seen) {
    const path = `${root}/${rel}`;
    if ((s.mode & S_IFMT) === TYPE_BITS.symlink) s.target = (await run('readlink', [path])).stdout.replace(/\n$/, '');
    if ((s.mode & S_IFMT) === TYPE_BITS.reg) {
      const sum = await run('sha256sum', [path]);
      expect(sum.code, `sha256sum ${path}: ${sum.stderr}`).toBe(0);
      s.sha256 = `sha256:${sum.stdout.split(' ')[0]}`;
    }
    if ((s.mode & S_IFMT) !== TYPE_BITS.symlink) s.xattrs = await xattrsOf(path);
  }
  return seen;
}

/** xattrs of `path` (not following symlinks), values base64 like the fixture's. */
export async function xattrsOf(path: string): Promise<Record<string, string>> {
  const out = await run('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'base64', path]);
  expect(out.code, out.stderr).toBe(0);
  const xattrs: Record<string, string> = {};
  for (const line of out.stdout.split('\n')) {
    const m = /^([^#=][^=]*)=0s(.*)$/.exec(line);
    if (m) xattrs[m[1]!] = m[2]!;
  }
  return xattrs;
}

/** Checks every expected entry against what was seen (a normal pull would show exactly these). */
export function expectMatchesFixture(seen: Map<string, Seen>, entries: ExpectedEntry[]): void {
  // overlayfs reads an opaque directory of a lower layer from this xattr.
  const opaque = new Set(entries.filter((e) => e.name.endsWith('/.wh..wh..opq')).map((e) => e.name.slice(0, -'/.wh..wh..opq'.length)));
  for (const e of entries) {
    const name = e.name.replace(/\/$/, '');
    const base = name.split('/').pop()!;
    if (base === '.wh..wh..opq' || base === '.prefetch.landmark' || base === '.no.prefetch.landmark') {
      expect(seen.has(name), `${name} must be hidden`).toBe(false);
      continue;
    }
    if (base.startsWith('.wh.')) {
      const shown = [...name.split('/').slice(0, -1), base.slice(4)].join('/');
      const wh = seen.get(shown);
      expect(wh, `whiteout ${name} shown as ${shown}`).toBeDefined();
      expect(wh!.mode, `${shown} is a 0:0 char device, mode 0`).toBe(TYPE_BITS.char);
      expect([wh!.major, wh!.minor, wh!.uid, wh!.gid, wh!.size, wh!.nlink]).toEqual([0, 0, 0, 0, 0, 1]);
      expect(seen.has(name)).toBe(false);
      continue;
    }
    const s = seen.get(name);
    expect(s, `${name} is present`).toBeDefined();
    const what = `${name}`;
    if (e.type === 'hardlink') {
      const target = seen.get(e.linkName!.replace(/\/$/, ''))!;
      expect(s!.ino, `${what}: same inode as ${e.linkName}`).toBe(target.ino);
      expect(s!.nlink, `${what}: link count`).toBeGreaterThanOrEqual(2);
      expect(s!.sha256).toBe(target.sha256);
      continue;
    }
    expect(s!.mode & S_IFMT, `${what}: type`).toBe(TYPE_BITS[e.type]);
    expect((s!.mode & 0o7777).toString(8), `${what}: mode`).toBe((e.mode & 0o7777).toString(8));
    expect([s!.uid, s!.gid], `${what}: owners`).toEqual([e.uid, e.gid]);
    expect(s!.mtime, `${what}: mtime`).toBe(e.mtime);
    if (e.type === 'reg') {
      expect(s!.size, `${what}: size`).toBe(e.size);
      expect(s!.sha256, `${what}: content`).toBe(e.sha256);
    }
    if (e.type === 'symlink') expect(s!.target, `${what}: target`).toBe(e.linkName);
    if (e.type === 'char' || e.type === 'block') expect([s!.major, s!.minor], `${what}: device`).toEqual([e.devMajor ?? 0, e.devMinor ?? 0]);
    const xattrs = opaque.has(name) ? { ...e.xattrs, 'trusted.overlay.opaque': Buffer.from('y').toString('base64') } : (e.xattrs ?? {});
    if (e.type !== 'symlink') expect(s!.xattrs, `${what}: xattrs`).toEqual(xattrs);
  }
}
