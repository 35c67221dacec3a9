import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import memory from '../../../../backends/memory/index.js';
import type { Call, Mount, SnapshotFilter, Snapshotter } from '../../../../core/sdk.js';

const log = pino({ level: 'silent' });
const call: Call = { signal: new AbortController().signal, log };
const all: SnapshotFilter = { source: [], match: () => true };

let root: string;
let sn: Snapshotter | undefined;
const mounted: string[] = [];

function isMounted(dir: string): boolean {
  try {
    execFileSync('mountpoint', ['-q', dir]);
    return true;
  } catch {
    return false;
  }
}

/** Mount what the snapshotter returned, as containerd would, at a new dir; returns the dir. */
async function mountAt(mounts: Mount[]): Promise<string> {
  expect(mounts).toHaveLength(1);
  const m = mounts[0]!;
  const target = await mkdtemp(path.join(root, 'mnt-'));
  execFileSync('mount', ['-t', m.type, '-o', m.options.join(','), m.source, target]);
  mounted.push(target);
  return target;
}

function unmount(target: string): void {
  execFileSync('umount', [target]);
  mounted.splice(mounted.indexOf(target), 1);
}

async function create(options: Record<string, unknown> = {}): Promise<Snapshotter> {
  sn = await memory.create(memory.options.parse(options), { name: 'memory', root, log, signal: new AbortController().signal });
  return sn;
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'memory-backend-'));
});

afterEach(async () => {
  for (const m of mounted.splice(0).reverse()) execFileSync('umount', [m]);
  await sn?.close?.();
  sn = undefined;
  while (isMounted(path.join(root, 'tmpfs'))) execFileSync('umount', [path.join(root, 'tmpfs')]);
  await rm(root, { recursive: true, force: true });
});

describe('memory backend options', () => {
  it('accepts tmpfs sizes and defaults to 50%', () => {
    expect(memory.options.parse({})).toEqual({ size: '50%' });
    for (const size of ['1g', '512M', '1073741824', '100%', '1%', ' 2g ']) expect(memory.options.safeParse({ size }).success).toBe(true);
  });

  it('refuses bad sizes and unknown keys', () => {
    for (const size of ['0', '0%', '101%', 'abc', '1.5g', '-1g', '', 5]) {
      const r = memory.options.safeParse({ size });
      expect(r.success, `size ${JSON.stringify(size)}`).toBe(false);
    }
    const typo = memory.options.safeParse({ sise: '1g' });
    expect(typo.success).toBe(false);
    expect(JSON.stringify(typo.error?.issues)).toContain('sise');
  });
});

describe('memory backend', () => {
  it('mounts a tmpfs under the root and unmounts it on close (twice is fine)', async () => {
    const s = await create({ size: '64m' });
    const tmpfs = path.join(root, 'tmpfs');
    expect(isMounted(tmpfs)).toBe(true);
    const df = execFileSync('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', tmpfs], { encoding: 'utf8' });
    expect(df).toMatch(/^tmpfs .*size=65536k/);
    await s.close!();
    await s.close!();
    expect(isMounted(tmpfs)).toBe(false);
    await expect(Promise.resolve(s.stat('x', call))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses a second instance on the same root in this process and keeps the first mounted', async () => {
    const first = await create({ size: '16m' });
    await first.prepare('k', '', {}, call);
    const ctx = { name: 'memory-2', root, log, signal: new AbortController().signal };
    await expect(memory.create(memory.options.parse({}), ctx)).rejects.toThrow(/already used by another memory instance/);
    expect(isMounted(path.join(root, 'tmpfs'))).toBe(true);
    expect((await first.stat('k', call)).kind).toBe('active');
    await first.close!();
    sn = await memory.create(memory.options.parse({ size: '16m' }), ctx);
    expect(isMounted(path.join(root, 'tmpfs'))).toBe(true);
  });

  it('replaces a tmpfs a crashed run left mounted', async () => {
    const tmpfs = path.join(root, 'tmpfs');
    await mkdir(tmpfs);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'leftover', tmpfs]);
    await writeFile(path.join(tmpfs, 'old'), 'from the previous run');
    const s = await create({ size: '16m' });
    expect(await readdir(tmpfs)).toEqual(['snapshots']);
    const table = await readFile('/proc/self/mountinfo', 'utf8');
    expect(table.split('\n').filter((l) => l.split(' ')[4] === tmpfs)).toHaveLength(1);
    expect(await s.prepare('k', '', {}, call)).toHaveLength(1);
  });

  it('prepare -> write -> commit -> child overlay -> read-only view', async () => {
    const s = await create({ size: '64m' });
    const oldMask = process.umask(0o077);
    let m1: Mount[];
    try {
      m1 = await s.prepare('ns/1/extract-1 sha256:L1', '', { a: '1' }, call);
    } finally {
      process.umask(oldMask);
    }
    expect(m1).toEqual([{ type: 'bind', source: path.join(root, 'tmpfs/snapshots/1/fs'), options: ['rw', 'rbind'] }]);
    expect((await stat(m1[0]!.source)).mode & 0o777).toBe(0o755);
    expect(await s.mounts('ns/1/extract-1 sha256:L1', call)).toEqual(m1);

    const t1 = await mountAt(m1);
    await writeFile(path.join(t1, 'base.txt'), 'base');
    await writeFile(path.join(t1, 'blob'), Buffer.alloc(1024 * 1024, 7));
    unmount(t1);
    const active = await s.usage('ns/1/extract-1 sha256:L1', call);
    expect(active.size).toBeGreaterThanOrEqual(1024 * 1024);
    expect(active.inodes).toBe(3);
    await s.commit('ns/2/sha256:L1', 'ns/1/extract-1 sha256:L1', { c: '2' }, call);
    expect(await s.usage('ns/2/sha256:L1', call)).toEqual(active);
    // status() reports the RAM the tmpfs holds: at least the file just written.
    expect((await s.status!(call)).diskBytes).toBeGreaterThanOrEqual(1024 * 1024);
    const info = await s.stat('ns/2/sha256:L1', call);
    expect(info).toMatchObject({ name: 'ns/2/sha256:L1', parent: '', kind: 'committed', labels: { c: '2' } });

    const m2 = await s.prepare('child', 'ns/2/sha256:L1', {}, call);
    expect(m2[0]!.type).toBe('overlay');
    const t2 = await mountAt(m2);
    expect(await readFile(path.join(t2, 'base.txt'), 'utf8')).toBe('base');
    await writeFile(path.join(t2, 'child.txt'), 'child');
    unmount(t2);
    expect((await s.usage('child', call)).inodes).toBe(2);
    await s.commit('layer2', 'child', {}, call);

    const v = await s.view('v', 'layer2', {}, call);
    expect(v[0]!.options.some((o) => o.startsWith('upperdir='))).toBe(false);
    const tv = await mountAt(v);
    expect(await readFile(path.join(tv, 'base.txt'), 'utf8')).toBe('base');
    expect(await readFile(path.join(tv, 'child.txt'), 'utf8')).toBe('child');
    await expect(writeFile(path.join(tv, 'nope'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    unmount(tv);

    const v1 = await s.view('v1', 'ns/2/sha256:L1', {}, call);
    expect(v1).toEqual([{ type: 'bind', source: m1[0]!.source, options: ['ro', 'rbind'] }]);
    expect(await s.usage('v1', call)).toEqual({ size: 0, inodes: 0 });

    const names: string[] = [];
    for await (const i of s.list({ source: ['kind==view'], match: (x) => x.kind === 'view' }, call)) names.push(i.name);
    expect(names.sort()).toEqual(['v', 'v1']);
  });

  it('refuses removing a parent with children (message contains "remove"), then removes top-down with directories', async () => {
    const s = await create({ size: '16m' });
    await s.prepare('a', '', {}, call);
    await s.commit('A', 'a', {}, call);
    await s.prepare('b', 'A', {}, call);
    const err = await Promise.resolve(s.remove('A', call)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect((err as Error).message).toContain('remove');
    await s.remove('b', call);
    await s.remove('A', call);
    expect(await readdir(path.join(root, 'tmpfs/snapshots'))).toEqual([]);
    await expect(Promise.resolve(s.remove('A', call))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers the contract errors and validates inputs', async () => {
    const s = await create({ size: '16m' });
    await s.prepare('a', '', {}, call);
    await s.view('v', '', {}, call);
    const codeOf = (p: unknown) => Promise.resolve(p).then(() => 'OK', (e: { code?: string }) => e.code);
    expect(await codeOf(s.prepare('a', '', {}, call))).toBe('ALREADY_EXISTS');
    expect(await codeOf(s.view('a', '', {}, call))).toBe('ALREADY_EXISTS');
    expect(await codeOf(s.prepare('x', 'missing', {}, call))).toBe('NOT_FOUND');
    expect(await codeOf(s.prepare('x', 'a', {}, call))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(s.prepare('', '', {}, call))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(s.commit('n', 'missing', {}, call))).toBe('NOT_FOUND');
    expect(await codeOf(s.commit('n', 'v', {}, call))).toBe('FAILED_PRECONDITION');
    expect(await codeOf(s.stat('missing', call))).toBe('NOT_FOUND');
    expect(await codeOf(s.usage('missing', call))).toBe('NOT_FOUND');
    expect(await codeOf(s.mounts('missing', call))).toBe('NOT_FOUND');
    expect(await codeOf(s.update({ name: 'a', labels: {} }, ['kind'], call))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(s.update({ name: 'missing', labels: {} }, [], call))).toBe('NOT_FOUND');
    await s.commit('A', 'a', {}, call);
    expect(await codeOf(s.mounts('A', call))).toBe('FAILED_PRECONDITION');
    await s.prepare('b', '', {}, call);
    expect(await codeOf(s.commit('A', 'b', {}, call))).toBe('ALREADY_EXISTS');
    // nothing half-made: only the three snapshots' dirs exist
    expect((await readdir(path.join(root, 'tmpfs/snapshots'))).sort()).toEqual(['1', '2', '3']);
  });

  it('never uses a key as a path', async () => {
    const s = await create({ size: '16m' });
    const m = await s.prepare('../../../../etc/evil key', '', {}, call);
    expect(m[0]!.source).toBe(path.join(root, 'tmpfs/snapshots/1/fs'));
  });

  it('update changes labels and refreshes updated', async () => {
    const s = await create({ size: '16m' });
    await s.prepare('a', '', { x: '1' }, call);
    const before = await s.stat('a', call);
    const after = await s.update({ name: 'a', labels: { y: '2' } }, ['labels.y'], call);
    expect(after.labels).toEqual({ x: '1', y: '2' });
    expect(after.updated > before.updated).toBe(true);
    expect(await s.stat('a', call)).toEqual(after);
  });

  it('cleanup removes directories no snapshot owns and keeps the others', async () => {
    const s = await create({ size: '16m' });
    await s.prepare('a', '', {}, call);
    const snaps = path.join(root, 'tmpfs/snapshots');
    await mkdir(path.join(snaps, '99/fs'), { recursive: true });
    await mkdir(path.join(snaps, 'new-abc123'));
    await s.cleanup!(call);
    expect(await readdir(snaps)).toEqual(['1']);
  });

  it('fails clearly when the tmpfs cannot be mounted', async () => {
    // A `mount` that fails the way it does without CAP_SYS_ADMIN, first on PATH.
    const bin = path.join(root, 'bin');
    await mkdir(bin);
    await writeFile(path.join(bin, 'mount'), '#!/bin/sh\necho "mount: only root can use \\"--types\\" option" >&2\nexit 1\n', { mode: 0o755 });
    const oldPath = process.env['PATH'];
    process.env['PATH'] = `${bin}:${oldPath ?? ''}`;
    try {
      await expect(create({ size: '16m' })).rejects.toThrow(/cannot mount a tmpfs \(size=16m\) at .*needs root.*only root can use/);
    } finally {
      process.env['PATH'] = oldPath;
    }
    expect(isMounted(path.join(root, 'tmpfs'))).toBe(false);
  });
});
