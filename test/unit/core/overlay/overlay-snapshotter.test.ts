/**
 * The shared overlay snapshotter on a real directory with real mounts (needs root), over the
 * in-process MemoryMetaStore (the LMDB store is exercised by the overlayfs-native tests).
 */
import { execFileSync } from 'node:child_process';
import { chown, link, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryMetaStore } from '../../../../core/metastore/memory-metastore.js';
import { MAX_KEY_BYTES } from '../../../../core/contract/key-limit.js';
import { LABEL_OVERLAY_UPPERDIR, createOverlaySnapshotter, type OverlaySnapshotter, type OverlaySnapshotterOptions } from '../../../../core/overlay/overlay-snapshotter.js';
import { overlayIndexOff } from '../../../../core/overlay/overlay-mounts.js';
import type { Call, Mount, SnapshotFilter } from '../../../../core/contract/snapshotter.js';

const log = pino({ level: 'silent' });
const call: Call = { signal: new AbortController().signal, log };
const all: SnapshotFilter = { source: [], match: () => true };

let dir: string;
let snaps: string;
let sn: OverlaySnapshotter | undefined;
const mounted: string[] = [];

async function open(o: Partial<OverlaySnapshotterOptions> = {}): Promise<OverlaySnapshotter> {
  sn = createOverlaySnapshotter({ store: new MemoryMetaStore(), dir, log, ...o });
  return sn;
}

/** Mount what the snapshotter returned, as containerd would, at a new dir; returns the dir. */
async function mountAt(mounts: Mount[]): Promise<string> {
  expect(mounts).toHaveLength(1);
  const m = mounts[0]!;
  const target = await mkdtemp(path.join(dir, 'mnt-'));
  execFileSync('mount', ['-t', m.type, '-o', m.options.join(','), m.source, target]);
  mounted.push(target);
  return target;
}

function unmount(target: string): void {
  execFileSync('umount', [target]);
  mounted.splice(mounted.indexOf(target), 1);
}

const codeOf = (p: unknown) => Promise.resolve(p).then(() => 'OK', (e: { code?: string }) => e.code);
const errorOf = (p: unknown) => Promise.resolve(p).then(() => undefined, (e: unknown) => e as Error & { code?: string });

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'overlay-snapshotter-'));
  snaps = path.join(dir, 'snapshots');
  await mkdir(snaps, { mode: 0o700 });
});

afterEach(async () => {
  for (const m of mounted.splice(0).reverse()) execFileSync('umount', [m]);
  await sn?.close();
  sn = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('createOverlaySnapshotter', () => {
  it('prepare -> write -> commit -> child overlay -> read-only view, with containerd layout and modes', async () => {
    const s = await open();
    const oldMask = process.umask(0o077);
    let m1: Mount[];
    try {
      m1 = await s.prepare('ns/1/extract-1 sha256:L1', '', { a: '1' }, call);
    } finally {
      process.umask(oldMask);
    }
    expect(m1).toEqual([{ type: 'bind', source: path.join(snaps, '1/fs'), options: ['rw', 'rbind'] }]);
    expect((await stat(path.join(snaps, '1/fs'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(snaps, '1/work'))).mode & 0o777).toBe(0o711);
    expect(await s.mounts('ns/1/extract-1 sha256:L1', call)).toEqual(m1);

    const t1 = await mountAt(m1);
    await writeFile(path.join(t1, 'base.txt'), 'base');
    unmount(t1);
    await s.commit('L1', 'ns/1/extract-1 sha256:L1', { c: '2' }, call);
    expect(await s.stat('L1', call)).toMatchObject({ name: 'L1', parent: '', kind: 'committed', labels: { c: '2' } });

    const m2 = await s.prepare('child', 'L1', {}, call);
    expect(m2[0]).toMatchObject({ type: 'overlay', source: 'overlay' });
    expect(m2[0]!.options.slice(-3)).toEqual([`workdir=${path.join(snaps, '2/work')}`, `upperdir=${path.join(snaps, '2/fs')}`, `lowerdir=${path.join(snaps, '1/fs')}`]);
    const t2 = await mountAt(m2);
    expect(await readFile(path.join(t2, 'base.txt'), 'utf8')).toBe('base');
    await writeFile(path.join(t2, 'child.txt'), 'child');
    unmount(t2);
    await s.commit('L2', 'child', {}, call);

    const v = await s.view('v', 'L2', {}, call);
    expect(v[0]!.options.some((o) => o.startsWith('upperdir=') || o.startsWith('workdir='))).toBe(false);
    expect(v[0]!.options.at(-1)).toBe(`lowerdir=${path.join(snaps, '2/fs')}:${path.join(snaps, '1/fs')}`);
    const tv = await mountAt(v);
    expect(await readFile(path.join(tv, 'child.txt'), 'utf8')).toBe('child');
    await expect(writeFile(path.join(tv, 'nope'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    unmount(tv);
    // a view has no work dir
    expect(await readdir(path.join(snaps, '3'))).toEqual(['fs']);
  });

  it('remove: metadata first, directory at once without asyncRemove', async () => {
    const s = await open({ asyncRemove: false });
    await s.prepare('a', '', {}, call);
    await s.remove('a', call);
    expect(await readdir(snaps)).toEqual([]);
    expect(await codeOf(s.stat('a', call))).toBe('NOT_FOUND');
  });

  it('remove with asyncRemove: the key is gone at once, the directory at the next cleanup', async () => {
    const s = await open({ asyncRemove: true });
    await s.prepare('a', '', {}, call);
    await s.prepare('b', '', {}, call);
    await s.remove('a', call);
    expect(await codeOf(s.stat('a', call))).toBe('NOT_FOUND');
    expect((await readdir(snaps)).sort()).toEqual(['1', '2']);
    // the key is free again right away, with a new id
    expect((await s.prepare('a', '', {}, call))[0]!.source).toBe(path.join(snaps, '3/fs'));
    await s.cleanup(call);
    expect((await readdir(snaps)).sort()).toEqual(['2', '3']);
  });

  it('cleanup removes orphan and temp dirs (and stray files) under snapshots/, and nothing else', async () => {
    const s = await open();
    await s.prepare('a', '', {}, call);
    await s.prepare('b', '', {}, call);
    await s.commit('B', 'b', {}, call);
    await writeFile(path.join(snaps, '1/fs/keep'), 'data');
    await mkdir(path.join(snaps, '99/fs'), { recursive: true });
    await mkdir(path.join(snaps, 'new-123456/fs'), { recursive: true });
    await writeFile(path.join(snaps, 'stray'), 'x');
    await writeFile(path.join(dir, 'beside-snapshots'), 'not ours to judge');
    await s.cleanup(call);
    expect((await readdir(snaps)).sort()).toEqual(['1', '2']);
    expect(await readFile(path.join(snaps, '1/fs/keep'), 'utf8')).toBe('data');
    expect((await readdir(dir)).sort()).toEqual(['beside-snapshots', 'snapshots']);
  });

  it('a failed create leaves neither a record nor a directory', async () => {
    const s = await open();
    expect(await codeOf(s.prepare('x', 'missing', {}, call))).toBe('NOT_FOUND');
    await s.prepare('a', '', {}, call);
    expect(await codeOf(s.prepare('x', 'a', {}, call))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(s.prepare('a', '', {}, call))).toBe('ALREADY_EXISTS');
    expect(await readdir(snaps)).toEqual(['1']);
    const names: string[] = [];
    for await (const i of s.list(all, call)) names.push(i.name);
    expect(names).toEqual(['a']);
  });

  it('replaces a stale unrecorded directory at the id it is given (metadata that never committed)', async () => {
    const s = await open();
    await mkdir(path.join(snaps, '1/fs'), { recursive: true });
    await writeFile(path.join(snaps, '1/fs/stale'), 'from a crashed create');
    const m = await s.prepare('a', '', {}, call);
    expect(m[0]!.source).toBe(path.join(snaps, '1/fs'));
    expect(await readdir(path.join(snaps, '1/fs'))).toEqual([]);
  });

  it('a new layer root is owned like its parent root (containerd)', async () => {
    const s = await open();
    await s.prepare('a', '', {}, call);
    await chown(path.join(snaps, '1/fs'), 1234, 5678);
    await s.commit('A', 'a', {}, call);
    await s.prepare('b', 'A', {}, call);
    const st = await stat(path.join(snaps, '2/fs'));
    expect([st.uid, st.gid]).toEqual([1234, 5678]);
  });

  it('usage: active walks the upper dir now (hard links once); committed is what commit recorded; view is 0', async () => {
    const s = await open();
    await s.prepare('a', '', {}, call);
    const fs = path.join(snaps, '1/fs');
    await writeFile(path.join(fs, 'f'), Buffer.alloc(64 * 1024, 1));
    for (const n of ['l1', 'l2', 'l3']) await link(path.join(fs, 'f'), path.join(fs, n));
    const u = await s.usage('a', call);
    expect(u.inodes).toBe(2); // the root and one file, whatever its links
    expect(u.size).toBeGreaterThanOrEqual(64 * 1024);
    expect(u.size).toBeLessThan(2 * 64 * 1024);
    await s.commit('A', 'a', {}, call);
    await writeFile(path.join(fs, 'later'), Buffer.alloc(64 * 1024, 2)); // not re-measured
    expect(await s.usage('A', call)).toEqual(u);
    await s.view('v', 'A', {}, call);
    expect(await s.usage('v', call)).toEqual({ size: 0, inodes: 0 });
  });

  it('reports a record whose directory vanished (damage from outside) clearly', async () => {
    const s = await open();
    await s.prepare('a', '', {}, call);
    await s.commit('A', 'a', {}, call);
    await s.prepare('b', 'A', {}, call);
    await s.prepare('c', '', {}, call);
    await rm(path.join(snaps, '1'), { recursive: true });
    await rm(path.join(snaps, '3'), { recursive: true });

    // mounts answers from the metadata (as containerd): a parent's missing layer is the
    // kernel's ENOENT at mount time; prepare on that parent names it
    expect((await s.mounts('b', call)).map((m) => m.type)).toEqual(['overlay']);
    expect((await errorOf(s.prepare('d', 'A', {}, call)))?.message).toMatch(/snapshot "A": its directory .*\/snapshots\/1\/fs is missing; the metadata and the snapshot directories disagree/);
    expect((await errorOf(s.usage('c', call)))?.message).toMatch(/snapshot "c": its directory .*\/snapshots\/3\/fs is missing/);
    expect((await errorOf(s.commit('C', 'c', {}, call)))?.message).toMatch(/snapshot "c": its directory .*\/snapshots\/3\/fs is missing/);
    expect((await errorOf(s.mounts('c', call)))?.message).toMatch(/snapshot "c": its directory .*\/snapshots\/3 is missing/);
    expect(await s.findMissingDirs()).toEqual([
      { key: 'A', dir: path.join(snaps, '1') },
      { key: 'c', dir: path.join(snaps, '3') },
    ]);
    // the failed prepare and commit changed nothing
    expect(await codeOf(s.stat('d', call))).toBe('NOT_FOUND');
    expect((await s.stat('c', call)).kind).toBe('active');
    // and the damaged snapshots can still be removed
    await s.remove('b', call);
    await s.remove('A', call);
    await s.remove('c', call);
    expect(await s.findMissingDirs()).toEqual([]);
  });

  it('mountOptions go in front of every overlay mount; index=off is added unless index is set; binds are untouched', async () => {
    const s = await open({ mountOptions: ['volatile'] });
    const base = await s.prepare('a', '', {}, call);
    expect(base[0]!.options).toEqual(['rw', 'rbind']);
    await s.commit('A', 'a', {}, call);
    const m = await s.prepare('b', 'A', {}, call);
    expect(m[0]!.options.slice(0, overlayIndexOff() ? 2 : 1)).toEqual(overlayIndexOff() ? ['volatile', 'index=off'] : ['volatile']);
    const t = await mountAt(m); // the kernel accepts them
    unmount(t);
    await s.close();

    const s2 = await open({ mountOptions: ['index=on', 'redirect_dir=on'] });
    await s2.prepare('a', '', {}, call);
    await s2.commit('A', 'a', {}, call);
    const m2 = await s2.prepare('b', 'A', {}, call);
    expect(m2[0]!.options.filter((o) => o.startsWith('index'))).toEqual(['index=on']);
    expect(m2[0]!.options[1]).toBe('redirect_dir=on');
  });

  it('refuses mount options it cannot pass on', () => {
    for (const bad of ['a,b', 'lowerdir=/x', 'upperdir=/y', 'workdir=/z', '', ' volatile']) {
      expect(() => createOverlaySnapshotter({ store: new MemoryMetaStore(), dir, log, mountOptions: [bad] }), bad).toThrow(/overlay mount option \[0\]/);
    }
  });

  it('upperdirLabel adds the upper dir to stat, list and update (not stored)', async () => {
    const s = await open({ upperdirLabel: true });
    await s.prepare('a', '', { x: '1' }, call);
    const upper = path.join(snaps, '1/fs');
    expect((await s.stat('a', call)).labels).toEqual({ x: '1', [LABEL_OVERLAY_UPPERDIR]: upper });
    const listed: Record<string, string>[] = [];
    for await (const i of s.list(all, call)) listed.push(i.labels);
    expect(listed).toEqual([{ x: '1', [LABEL_OVERLAY_UPPERDIR]: upper }]);
    expect((await s.update({ name: 'a', labels: {} }, ['labels'], call)).labels).toEqual({ [LABEL_OVERLAY_UPPERDIR]: upper });
    await s.close();
    // without the option there is no such label
    const s2 = await open();
    await s2.prepare('a', '', {}, call);
    expect((await s2.stat('a', call)).labels).toEqual({});
  });

  it(`refuses keys, names and parents over ${MAX_KEY_BYTES} bytes and never uses a key as a path`, async () => {
    const s = await open();
    const long = 'k'.repeat(MAX_KEY_BYTES + 1);
    const err = await errorOf(s.prepare(long, '', {}, call));
    expect(err?.code).toBe('INVALID_ARGUMENT');
    expect(err?.message).toMatch(/snapshot key is 32769 bytes long, more than the maximum of 32768 bytes/);
    expect(await codeOf(s.prepare('x', long, {}, call))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(s.stat(long, call))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(s.prepare('é'.repeat(MAX_KEY_BYTES / 2 + 1), '', {}, call))).toBe('INVALID_ARGUMENT'); // bytes, not characters
    await s.prepare('k'.repeat(MAX_KEY_BYTES), '', {}, call);
    const m = await s.prepare('../../../../etc/evil key', '', {}, call);
    expect(m[0]!.source).toBe(path.join(snaps, '2/fs'));
    await s.commit('A', 'a/../../b', {}, call).catch(() => undefined);
    expect((await readdir(snaps)).sort()).toEqual(['1', '2']);
  });

  it('after close every call answers UNAVAILABLE', async () => {
    const s = await open();
    await s.prepare('a', '', {}, call);
    await s.close();
    expect(await codeOf(s.stat('a', call))).toBe('UNAVAILABLE');
    expect(await codeOf(s.prepare('b', '', {}, call))).toBe('UNAVAILABLE');
  });
});
