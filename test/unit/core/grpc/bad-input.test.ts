/**
 * Hostile and wrong requests through a real grpc-js client against `overlayfs-native`: the
 * right gRPC code and a message that says what is wrong, and keys never become paths.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import backend from '../../../../backends/overlayfs-native/index.js';
import type { MountsResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/MountsResponse.js';
import type { StatSnapshotResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/StatSnapshotResponse.js';
import type { UsageResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/UsageResponse.js';
import { MAX_KEY_BYTES } from '../../../../core/contract/key-limit.js';
import type { Snapshotter } from '../../../../core/contract/snapshotter.js';
import { type Served, grpcError, listAll, serve, silentLog, tempDir, unary } from './helpers.js';

let outer: string;
let root: string;
let sn: Snapshotter;
let s: Served;

beforeAll(async () => {
  // root one level down, so a key used as a relative path would land visibly in `outer`
  outer = await tempDir('snaphost-bad-input-');
  root = path.join(outer, 'root');
  await mkdir(root, { mode: 0o700 });
  sn = await backend.create(backend.options.parse({ asyncRemove: false }), { name: 'overlayfs-native', root, log: silentLog, signal: new AbortController().signal });
  s = await serve(sn, { backend: 'overlayfs-native' });
});

afterAll(async () => {
  await s?.close();
  await sn?.close?.();
  if (outer) await rm(outer, { recursive: true, force: true });
});

const prepare = (key: string, parent = '', labels: Record<string, string> = {}) =>
  unary<MountsResponse__Output>((cb) => s.client.prepare({ key, parent, labels }, cb));
const view = (key: string, parent = '') => unary<MountsResponse__Output>((cb) => s.client.view({ key, parent }, cb));
const commit = (name: string, key: string) => unary<object>((cb) => s.client.commit({ name, key }, cb));
const stat = (key: string) => unary<StatSnapshotResponse__Output>((cb) => s.client.stat({ key }, cb)).then((r) => r.info!);
const remove = (key: string) => unary<object>((cb) => s.client.remove({ key }, cb));
const mounts = (key: string) => unary<MountsResponse__Output>((cb) => s.client.mounts({ key }, cb));
const usage = (key: string) => unary<UsageResponse__Output>((cb) => s.client.usage({ key }, cb));
const update = (name: string) => unary<object>((cb) => s.client.update({ info: { name, labels: { a: 'b' } }, updateMask: { paths: ['labels.a'] } }, cb));

async function expectError(p: Promise<unknown>, code: grpc.status, details: RegExp): Promise<void> {
  const err = await grpcError(p);
  expect(grpc.status[err.code], err.details).toBe(grpc.status[code]);
  expect(err.details).toMatch(details);
}

describe('bad input over gRPC (overlayfs-native)', () => {
  it('opaque keys with /, spaces, .., NUL, newlines and non-ASCII are names, never paths', async () => {
    const keys = [
      'default/12/extract-123 sha256:abc',
      'with space',
      '..',
      '.',
      '../../etc',
      '../../../../../../etc/passwd',
      'a/../../b',
      '/absolute/path',
      'nul\0byte',
      'line\nbreak',
      'ünïcødé ✓',
    ];
    for (const [i, key] of keys.entries()) {
      const id = String(2 * i + 1); // each round makes two snapshots: the key (then committed) and a child
      const m = await prepare(key);
      expect(m.mounts[0]!.source, JSON.stringify(key)).toBe(path.join(root, 'snapshots', id, 'fs'));
      expect((await stat(key)).name).toBe(key);
      await commit(`committed ${key}`, key);
      const child = await prepare(`child of ${key}`, `committed ${key}`);
      expect(child.mounts[0]!.options.at(-1)).toBe(`lowerdir=${path.join(root, 'snapshots', id, 'fs')}`);
    }
    const listed = (await listAll(s.client)).infos.map((i) => i.name);
    for (const key of keys) expect(listed).toContain(`committed ${key}`);
  });

  it(`refuses keys over ${MAX_KEY_BYTES} bytes (e.g. 64 KiB) on every call, with the limit in the message`, async () => {
    const huge = 'k'.repeat(64 * 1024);
    const limit = new RegExp(`${64 * 1024} bytes long, more than the maximum of ${MAX_KEY_BYTES} bytes`);
    await expectError(prepare(huge), grpc.status.INVALID_ARGUMENT, limit);
    await expectError(view(huge), grpc.status.INVALID_ARGUMENT, limit);
    await expectError(prepare('ok-key', huge), grpc.status.INVALID_ARGUMENT, /snapshot parent is 65536 bytes long/);
    await expectError(stat(huge), grpc.status.INVALID_ARGUMENT, limit);
    await expectError(mounts(huge), grpc.status.INVALID_ARGUMENT, limit);
    await expectError(usage(huge), grpc.status.INVALID_ARGUMENT, limit);
    await expectError(remove(huge), grpc.status.INVALID_ARGUMENT, limit);
    await expectError(update(huge), grpc.status.INVALID_ARGUMENT, limit);
    await prepare('active-for-long-name');
    await expectError(commit(huge, 'active-for-long-name'), grpc.status.INVALID_ARGUMENT, /snapshot name is 65536 bytes long/);
    await expectError(stat('ok-key'), grpc.status.NOT_FOUND, /does not exist/);
    // exactly at the limit is fine
    const atLimit = 'k'.repeat(MAX_KEY_BYTES);
    await prepare(atLimit);
    expect((await stat(atLimit)).name).toBe(atLimit);
    await remove(atLimit);
  });

  it('unknown parents: NOT_FOUND naming the parent', async () => {
    await expectError(prepare('p1', 'no such parent'), grpc.status.NOT_FOUND, /parent snapshot "no such parent" does not exist/);
    await expectError(view('v1', 'no such parent'), grpc.status.NOT_FOUND, /parent snapshot "no such parent" does not exist/);
    await expectError(stat('p1'), grpc.status.NOT_FOUND, /"p1" does not exist/);
  });

  it('a parent that is not committed (active or view): INVALID_ARGUMENT, as containerd', async () => {
    await prepare('still-active');
    await view('a-view');
    await expectError(prepare('on-active', 'still-active'), grpc.status.INVALID_ARGUMENT, /parent "still-active" is not a committed snapshot/);
    await expectError(view('view-on-active', 'still-active'), grpc.status.INVALID_ARGUMENT, /not a committed snapshot/);
    await expectError(prepare('on-view', 'a-view'), grpc.status.INVALID_ARGUMENT, /parent "a-view" is not a committed snapshot/);
  });

  it('committing a view: FAILED_PRECONDITION; committing twice: NOT_FOUND then ALREADY_EXISTS', async () => {
    await view('cv-view');
    await expectError(commit('cv-name', 'cv-view'), grpc.status.FAILED_PRECONDITION, /"cv-view" is not active \(it is view\)/);
    expect((await stat('cv-view')).kind).toBe('VIEW');
    await prepare('twice');
    await commit('twice-name', 'twice');
    await expectError(commit('twice-name-2', 'twice'), grpc.status.NOT_FOUND, /snapshot "twice" does not exist/);
    await prepare('twice-b');
    await expectError(commit('twice-name', 'twice-b'), grpc.status.ALREADY_EXISTS, /"twice-name" already exists/);
    await expectError(commit('twice-name-3', 'twice-name'), grpc.status.FAILED_PRECONDITION, /not active \(it is committed\)/);
    await expectError(prepare('twice-name'), grpc.status.ALREADY_EXISTS, /already exists/); // keys and names share one namespace
  });

  it('removing a parent with children: FAILED_PRECONDITION mentioning remove; missing: NOT_FOUND', async () => {
    await prepare('rp-base');
    await commit('rp-parent', 'rp-base');
    await prepare('rp-child', 'rp-parent');
    await expectError(remove('rp-parent'), grpc.status.FAILED_PRECONDITION, /cannot remove snapshot "rp-parent".*child/);
    await remove('rp-child');
    await remove('rp-parent');
    await expectError(remove('rp-parent'), grpc.status.NOT_FOUND, /does not exist/);
  });

  it('mounts of a committed snapshot: FAILED_PRECONDITION; empty keys and big labels: INVALID_ARGUMENT', async () => {
    await prepare('mc');
    await commit('mc-name', 'mc');
    await expectError(mounts('mc-name'), grpc.status.FAILED_PRECONDITION, /not active or view/);
    await expectError(prepare(''), grpc.status.INVALID_ARGUMENT, /key must not be empty/);
    await expectError(prepare('big-labels', '', { k: 'v'.repeat(4096) }), grpc.status.INVALID_ARGUMENT, /4097 bytes, more than the maximum of 4096/);
    await expectError(stat('big-labels'), grpc.status.NOT_FOUND, /does not exist/);
    await expectError(update('no-such-snapshot'), grpc.status.NOT_FOUND, /does not exist/);
  });

  it('nothing was created outside <root>/snapshots/<small int> and <root>/metadata', async () => {
    expect(await readdir(outer)).toEqual(['root']);
    expect((await readdir(root)).sort()).toEqual(['metadata', 'snapshots']);
    const dirs = await readdir(path.join(root, 'snapshots'));
    expect(dirs.length).toBeGreaterThan(0);
    for (const d of dirs) expect(d).toMatch(/^[1-9][0-9]{0,3}$/);
    expect((await readdir(path.join(root, 'metadata'))).sort()).toEqual(['data.mdb', 'lock.mdb']);
    // and the store and the directories agree
    const ids = new Set(dirs);
    expect(ids.size).toBe((await listAll(s.client)).infos.length);
  });
});
