/**
 * The `overlayfs-native` backend as the host creates it: options, layout on disk, the LMDB
 * store, restart, leftovers of a crash, and a clear refusal where overlayfs cannot work.
 * Real mounts (needs root).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import backend from '../../../../backends/overlayfs-native/index.js';
import type { Call, Info, Mount, SnapshotFilter, Snapshotter } from '../../../../core/sdk.js';

const log = pino({ level: 'silent' });
const call: Call = { signal: new AbortController().signal, log };
const all: SnapshotFilter = { source: [], match: () => true };

let root: string;
let sn: Snapshotter | undefined;
const mounted: string[] = [];

async function create(options: Record<string, unknown> = {}): Promise<Snapshotter> {
  sn = await backend.create(backend.options.parse(options), { name: 'overlayfs-native', root, log, signal: new AbortController().signal });
  return sn;
}

async function restart(options: Record<string, unknown> = {}): Promise<Snapshotter> {
  await sn?.close?.();
  sn = undefined;
  return create(options);
}

async function mountAt(mounts: Mount[]): Promise<string> {
  const m = mounts[0]!;
  const target = await mkdtemp(path.join(tmpdir(), 'overlayfs-native-mnt-'));
  execFileSync('mount', ['-t', m.type, '-o', m.options.join(','), m.source, target]);
  mounted.push(target);
  return target;
}

async function listAll(s: Snapshotter): Promise<Info[]> {
  const out: Info[] = [];
  for await (const i of s.list(all, call)) out.push(i);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'overlayfs-native-'));
});

afterEach(async () => {
  for (const m of mounted.splice(0).reverse()) {
    execFileSync('umount', [m]);
    await rm(m, { recursive: true, force: true });
  }
  await sn?.close?.();
  sn = undefined;
  await rm(root, { recursive: true, force: true });
});

describe('overlayfs-native options', () => {
  it('defaults like containerd: asyncRemove on, no extra mount options, no upperdir label', () => {
    expect(backend.options.parse({})).toEqual({ asyncRemove: true, mountOptions: [], upperdirLabel: false });
    expect(backend.options.parse({ asyncRemove: false, mountOptions: ['volatile', 'metacopy=on'], upperdirLabel: true })).toEqual({
      asyncRemove: false,
      mountOptions: ['volatile', 'metacopy=on'],
      upperdirLabel: true,
    });
  });

  it('refuses unknown keys, wrong types and mount options snaphost sets or cannot pass', () => {
    const cases: [unknown, RegExp][] = [
      [{ asyncremove: true }, /asyncremove/],
      [{ root: '/x' }, /root/],
      [{ asyncRemove: 'yes' }, /boolean/],
      [{ mountOptions: 'volatile' }, /array/],
      [{ mountOptions: ['ro,volatile'] }, /contains a comma/],
      [{ mountOptions: ['lowerdir=/x'] }, /lowerdir= is set by snaphost/],
      [{ mountOptions: ['upperdir=/x'] }, /upperdir= is set by snaphost/],
      [{ mountOptions: ['workdir=/x'] }, /workdir= is set by snaphost/],
      [{ mountOptions: [''] }, /must not be empty/],
      [{ upperdirLabel: 1 }, /boolean/],
    ];
    for (const [input, message] of cases) {
      const r = backend.options.safeParse(input);
      expect(r.success, JSON.stringify(input)).toBe(false);
      expect(JSON.stringify(r.error?.issues), JSON.stringify(input)).toMatch(message);
    }
  });
});

describe('overlayfs-native backend', () => {
  it('lays out <root>/metadata and <root>/snapshots/<id>/{fs,work} and mounts layers', async () => {
    const s = await create();
    expect((await readdir(root)).sort()).toEqual(['metadata', 'snapshots']);
    const m = await s.prepare('default/1/extract-1 sha256:abc', '', {}, call);
    expect(m).toEqual([{ type: 'bind', source: path.join(root, 'snapshots/1/fs'), options: ['rw', 'rbind'] }]);
    const t = await mountAt(m);
    await writeFile(path.join(t, 'hello'), 'world');
    await s.commit('default/2/sha256:abc', 'default/1/extract-1 sha256:abc', {}, call);
    const c = await s.prepare('ctr', 'default/2/sha256:abc', {}, call);
    const tc = await mountAt(c);
    expect(await readFile(path.join(tc, 'hello'), 'utf8')).toBe('world');
    expect((await readdir(path.join(root, 'snapshots'))).sort()).toEqual(['1', '2']);
  });

  it('restart keeps every snapshot with labels, times and usage; ids continue, never reused', async () => {
    let s = await create();
    await s.prepare('a', '', { 'containerd.io/gc.root': 'x' }, call);
    await writeFile(path.join(root, 'snapshots/1/fs/data'), Buffer.alloc(10000, 3));
    await s.commit('A', 'a', { l: 'committed' }, call);
    await s.prepare('b', 'A', { l: 'active' }, call);
    await s.view('v', 'A', {}, call);
    await s.prepare('gone', '', {}, call);
    await s.remove('gone', call); // id 4 is used up
    const before = await listAll(s);
    const usageA = await s.usage('A', call);
    expect(usageA.inodes).toBe(2);

    s = await restart();
    expect(await listAll(s)).toEqual(before);
    expect(await s.usage('A', call)).toEqual(usageA);
    expect((await s.mounts('b', call))[0]!.options.at(-1)).toBe(`lowerdir=${path.join(root, 'snapshots/1/fs')}`);
    // asyncRemove (the default) left 4 for cleanup, and the restart's own cleanup removed it
    expect((await readdir(path.join(root, 'snapshots'))).sort()).toEqual(['1', '2', '3']);
    const m = await s.prepare('next', '', {}, call);
    expect(m[0]!.source).toBe(path.join(root, 'snapshots/5/fs'));
    // the layer contents are the same directories
    const t = await mountAt(await s.view('v2', 'A', {}, call));
    expect((await readFile(path.join(t, 'data'))).length).toBe(10000);
  });

  it('a running container keeps its overlay mount across a restart', async () => {
    let s = await create();
    await s.prepare('a', '', {}, call);
    await writeFile(path.join(root, 'snapshots/1/fs/base'), 'base');
    await s.commit('A', 'a', {}, call);
    const t = await mountAt(await s.prepare('ctr', 'A', {}, call));
    s = await restart();
    await writeFile(path.join(t, 'written-after-restart'), 'ok');
    expect(await readFile(path.join(root, 'snapshots/2/fs/written-after-restart'), 'utf8')).toBe('ok');
    expect((await s.usage('ctr', call)).inodes).toBe(2);
  });

  it('removes leftovers of a crash at start (temp dirs, unrecorded ids) and nothing recorded', async () => {
    let s = await create();
    await s.prepare('a', '', {}, call);
    await s.close!();
    sn = undefined;
    const snaps = path.join(root, 'snapshots');
    await mkdir(path.join(snaps, 'new-3f9a1c/fs'), { recursive: true });
    await mkdir(path.join(snaps, '7/fs'), { recursive: true });
    await writeFile(path.join(snaps, '1/fs/kept'), 'kept');
    s = await create();
    expect(await readdir(snaps)).toEqual(['1']);
    expect(await readFile(path.join(snaps, '1/fs/kept'), 'utf8')).toBe('kept');
    expect((await s.stat('a', call)).kind).toBe('active');
  });

  it('asyncRemove: false removes the directory inside remove', async () => {
    const s = await create({ asyncRemove: false });
    await s.prepare('a', '', {}, call);
    await s.remove('a', call);
    expect(await readdir(path.join(root, 'snapshots'))).toEqual([]);
  });

  it('asyncRemove (default) leaves the directory to cleanup', async () => {
    const s = await create();
    await s.prepare('a', '', {}, call);
    await s.remove('a', call);
    expect(await readdir(path.join(root, 'snapshots'))).toEqual(['1']);
    await s.cleanup!(call);
    expect(await readdir(path.join(root, 'snapshots'))).toEqual([]);
  });

  it('mountOptions and upperdirLabel reach mounts and labels', async () => {
    const s = await create({ mountOptions: ['redirect_dir=on'], upperdirLabel: true });
    await s.prepare('a', '', {}, call);
    await s.commit('A', 'a', {}, call);
    const m = await s.prepare('b', 'A', {}, call);
    expect(m[0]!.options[0]).toBe('redirect_dir=on');
    await mountAt(m);
    expect((await s.stat('A', call)).labels['containerd.io/snapshot/overlay.upperdir']).toBe(path.join(root, 'snapshots/1/fs'));
  });

  it('close closes the store: calls answer UNAVAILABLE; a second instance on the root opens after it', async () => {
    const s = await create();
    await s.prepare('a', '', {}, call);
    await s.close!();
    await expect(Promise.resolve(s.stat('a', call))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    sn = undefined;
    const again = await create();
    expect((await again.stat('a', call)).kind).toBe('active');
  });

  it('refuses to start, clearly, where overlayfs cannot be mounted', async () => {
    const bin = await mkdtemp(path.join(tmpdir(), 'overlayfs-native-bin-'));
    await writeFile(path.join(bin, 'mount'), '#!/bin/sh\necho "mount: wrong fs type, bad option, bad superblock on overlay" >&2\nexit 32\n', { mode: 0o755 });
    const oldPath = process.env['PATH'];
    process.env['PATH'] = `${bin}:${oldPath ?? ''}`;
    try {
      await expect(create()).rejects.toThrow(/overlayfs is not usable: .*wrong fs type/);
    } finally {
      process.env['PATH'] = oldPath;
      await rm(bin, { recursive: true, force: true });
    }
    // the check leaves nothing behind and opened no store
    expect(await readdir(root)).toEqual([]);
  });
});
