/**
 * The shared adapter against the real `memory` backend, through a real grpc-js client on a
 * temporary unix socket.
 */
import { rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import memory from '../../../../backends/memory/index.js';
import type { Info__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/Info.js';
import type { ListSnapshotsResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/ListSnapshotsResponse.js';
import type { MountsResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/MountsResponse.js';
import type { StatSnapshotResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/StatSnapshotResponse.js';
import type { UpdateSnapshotResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/UpdateSnapshotResponse.js';
import type { UsageResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/UsageResponse.js';
import type { Snapshotter } from '../../../../core/contract/snapshotter.js';
import { joinNs, nowNs } from '../../../../core/contract/time.js';
import { type Served, grpcError, listAll, serve, silentLog, tempDir, unary } from './helpers.js';

type Client = Served['client'];
const GC = 'containerd.io/gc.root';

let root: string;
let sn: Snapshotter;
let s: Served;
let client: Client;

beforeAll(async () => {
  root = await tempDir('snaphost-memory-');
  sn = await memory.create(memory.options.parse({ size: '256m' }), { name: 'memory', root, log: silentLog, signal: new AbortController().signal });
  s = await serve(sn, { backend: 'memory' });
  client = s.client;
});

afterAll(async () => {
  await s?.close();
  await sn?.close?.();
  if (root) await rm(root, { recursive: true, force: true });
});

const ns = (ts: { seconds: string; nanos: number } | null) => joinNs(BigInt(ts!.seconds), ts!.nanos);

const prepare = (key: string, parent = '', labels: Record<string, string> = {}) =>
  unary<MountsResponse__Output>((cb) => client.prepare({ key, parent, labels }, cb));
const view = (key: string, parent: string, labels: Record<string, string> = {}) =>
  unary<MountsResponse__Output>((cb) => client.view({ key, parent, labels }, cb));
const commit = (name: string, key: string, labels: Record<string, string> = {}) => unary<object>((cb) => client.commit({ name, key, labels }, cb));
const stat = (key: string) => unary<StatSnapshotResponse__Output>((cb) => client.stat({ key }, cb)).then((r) => r.info!);
const remove = (key: string) => unary<object>((cb) => client.remove({ key }, cb));
const update = (info: { name: string; labels?: Record<string, string> }, paths?: string[]) =>
  unary<UpdateSnapshotResponse__Output>((cb) => client.update({ info, ...(paths ? { updateMask: { paths } } : {}) }, cb)).then((r) => r.info!);

describe('adapter over memory: every RPC', () => {
  it('prepare, stat, mounts, usage, commit, view, remove, cleanup round trip', async () => {
    const before = nowNs();
    const base = await prepare('rt/base-tmp', '', { [GC]: 'x' });
    const after = nowNs();
    expect(base.mounts).toHaveLength(1);
    expect(base.mounts[0]!.type).toBe('bind');
    expect(base.mounts[0]!.options).toContain('rw');

    const info = await stat('rt/base-tmp');
    expect(info).toMatchObject({ name: 'rt/base-tmp', parent: '', kind: 'ACTIVE', labels: { [GC]: 'x' } });
    // Full nanosecond precision: created == updated exactly, inside the client's own window.
    expect(info.createdAt).toEqual(info.updatedAt);
    expect(ns(info.createdAt)).toBeGreaterThanOrEqual(before);
    expect(ns(info.createdAt)).toBeLessThanOrEqual(after);

    const mounts = await unary<MountsResponse__Output>((cb) => client.mounts({ key: 'rt/base-tmp' }, cb));
    expect(mounts.mounts).toEqual(base.mounts);
    const usage = await unary<UsageResponse__Output>((cb) => client.usage({ key: 'rt/base-tmp' }, cb));
    expect(Number(usage.size)).toBeGreaterThanOrEqual(0);
    expect(Number(usage.inodes)).toBeGreaterThanOrEqual(1);

    await commit('rt/base', 'rt/base-tmp', { [GC]: 'x' });
    expect(await stat('rt/base')).toMatchObject({ name: 'rt/base', kind: 'COMMITTED' });
    expect((await grpcError(stat('rt/base-tmp'))).code).toBe(grpc.status.NOT_FOUND);

    const child = await prepare('rt/child', 'rt/base');
    expect(child.mounts[0]!.type).toBe('overlay');
    const v = await view('rt/view', 'rt/base');
    expect(v.mounts[0]!.options).toContain('ro');
    expect(await stat('rt/view')).toMatchObject({ kind: 'VIEW', parent: 'rt/base' });

    const inUse = await grpcError(remove('rt/base'));
    expect(inUse.code).toBe(grpc.status.FAILED_PRECONDITION);
    await remove('rt/child');
    await remove('rt/view');
    await remove('rt/base');
    await unary<object>((cb) => client.cleanup({}, cb));
    expect((await grpcError(stat('rt/base'))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('works without a containerd-namespace header and with one', async () => {
    const md = new grpc.Metadata();
    md.set('containerd-namespace', 'k8s.io');
    await unary((cb) => client.prepare({ key: 'ns/with', parent: '' }, md, cb));
    await prepare('ns/without');
    expect((await stat('ns/with')).name).toBe('ns/with');
    await remove('ns/with');
    await remove('ns/without');
  });
});

describe('adapter over memory: errors', () => {
  it('maps backend errors to containerd status codes', async () => {
    await prepare('err/a');
    expect((await grpcError(prepare('err/a'))).code).toBe(grpc.status.ALREADY_EXISTS);
    expect((await grpcError(stat('err/missing'))).code).toBe(grpc.status.NOT_FOUND);
    expect((await grpcError(prepare('err/b', 'err/missing-parent'))).code).toBe(grpc.status.NOT_FOUND);
    await view('err/v', '');
    expect((await grpcError(commit('err/v-committed', 'err/v'))).code).toBe(grpc.status.FAILED_PRECONDITION);
    await remove('err/a');
    await remove('err/v');
  });

  it('refuses invalid requests before the backend runs', async () => {
    for (const p of [prepare(''), stat(''), remove(''), commit('', 'k'), commit('n', ''), view('', '')]) {
      const err = await grpcError(p);
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/must not be empty/);
    }
    const big = 'v'.repeat(4096);
    const err = await grpcError(prepare('err/big', '', { k: big }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/4097 bytes.*4096/);
    expect((await grpcError(stat('err/big'))).code).toBe(grpc.status.NOT_FOUND);
    // Exactly the limit is fine.
    await prepare('err/limit', '', { k: 'v'.repeat(4095) });
    await remove('err/limit');
    expect((await grpcError(unary((cb) => client.update({}, cb)))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcError(update({ name: '' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('adapter over memory: update masks', () => {
  it('applies labels, labels.<key> and empty masks and refuses immutable fields', async () => {
    await prepare('upd/a', '', { keep: '1', drop: '2' });
    const created = await stat('upd/a');

    let info = await update({ name: 'upd/a', labels: { added: '3' } }, ['labels.added', 'labels.drop']);
    expect(info.labels).toEqual({ keep: '1', added: '3' });
    expect(ns(info.updatedAt)).toBeGreaterThan(ns(info.createdAt));
    expect(info.createdAt).toEqual(created.createdAt);

    info = await update({ name: 'upd/a', labels: { only: 'x' } }, ['labels']);
    expect(info.labels).toEqual({ only: 'x' });

    info = await update({ name: 'upd/a', labels: { empty: 'mask' } });
    expect(info.labels).toEqual({ empty: 'mask' });

    for (const path of ['parent', 'name', 'kind', 'created_at', 'labels.']) {
      const err = await grpcError(update({ name: 'upd/a', labels: {} }, [path]));
      expect(err.code, path).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toContain(JSON.stringify(path));
    }
    expect((await stat('upd/a')).labels).toEqual({ empty: 'mask' });
    expect((await grpcError(update({ name: 'upd/missing', labels: {} }))).code).toBe(grpc.status.NOT_FOUND);
    await remove('upd/a');
  });
});

describe('adapter over memory: List', () => {
  it('streams 250 snapshots in batches of at most 100, with nanosecond timestamps', async () => {
    for (let i = 0; i < 250; i++) await prepare(`many/${String(i).padStart(3, '0')}`, '', { group: 'many' });
    const { infos, batchSizes } = await listAll(client, ['labels.group==many']);
    expect(infos).toHaveLength(250);
    expect(batchSizes.length).toBeGreaterThan(1);
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(100);
    expect(new Set(infos.map((i) => i.name)).size).toBe(250);
    for (const i of infos) expect(i.createdAt).toEqual(i.updatedAt);
    // Not truncated to milliseconds (or microseconds): some nanosecond part is not a multiple of 1000.
    expect(infos.some((i) => i.createdAt!.nanos % 1000 !== 0)).toBe(true);
  });

  it('answers Stat while a List stream is open', async () => {
    const stream = client.list({ filters: ['labels.group==many'] });
    const seen: Info__Output[] = [];
    const statted = await new Promise<Info__Output>((resolve, reject) => {
      stream.once('data', (m: ListSnapshotsResponse__Output) => {
        stream.pause();
        seen.push(...m.info);
        stat(m.info[0]!.name).then(resolve, reject);
      });
      stream.on('error', reject);
    });
    expect(statted.name).toBe(seen[0]!.name);
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: ListSnapshotsResponse__Output) => seen.push(...m.info));
      stream.on('end', resolve);
      stream.on('error', reject);
      stream.resume();
    });
    expect(seen).toHaveLength(250);
    for (let i = 0; i < 250; i++) await remove(`many/${String(i).padStart(3, '0')}`);
  });

  it('filters exactly like containerd (the testsuite Walk cases)', async () => {
    const gc = { [GC]: 'check-walk' };
    await prepare('a-np', '', gc);
    await prepare('p-tmp', '', gc);
    await commit('p', 'p-tmp', gc);
    await prepare('a', 'p', gc);
    await view('v', 'p', gc);
    await prepare('p-wl-tmp', '', gc);
    await commit('p-wl', 'p-wl-tmp', { l: '1', ...gc });
    await prepare('a-wl', 'p-wl', { l: '2', ...gc });
    await view('v-wl', 'p-wl', { l: '3', ...gc });
    await prepare('a-np-wl', '', { l: '2', ...gc });

    const cases: Array<[string[], string[]]> = [
      [['labels."containerd.io/gc.root"==check-walk'], ['a-np', 'p', 'a', 'v', 'p-wl', 'a-wl', 'v-wl', 'a-np-wl']],
      [['kind==active,labels."containerd.io/gc.root"==check-walk'], ['a-np', 'a', 'a-wl', 'a-np-wl']],
      [['kind==view,labels."containerd.io/gc.root"==check-walk'], ['v', 'v-wl']],
      [['kind==committed,labels."containerd.io/gc.root"==check-walk'], ['p', 'p-wl']],
      [['name==p', 'name==a-np-wl'], ['p', 'a-np-wl']],
      [['name==a-wl,labels.l'], ['a-wl']],
      [['parent==p'], ['a', 'v']],
      [['parent!="",labels."containerd.io/gc.root"==check-walk'], ['a', 'v', 'a-wl', 'v-wl']],
      [['labels.l'], ['p-wl', 'a-wl', 'v-wl', 'a-np-wl']],
      [['labels.l==2'], ['a-wl', 'a-np-wl']],
    ];
    for (const [filters, expected] of cases) {
      const { infos } = await listAll(client, filters);
      expect(infos.map((i) => i.name).sort(), filters.join(' OR ')).toEqual([...expected].sort());
    }
    expect((await listAll(client)).infos.map((i) => i.name).sort()).toEqual(['a', 'a-np', 'a-np-wl', 'a-wl', 'p', 'p-wl', 'v', 'v-wl']);

    const bad = await grpcError(listAll(client, ['name==a,']));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toContain('[name==a,]: expected field or quoted');

    for (const k of ['a', 'v', 'a-wl', 'v-wl', 'a-np', 'a-np-wl', 'p', 'p-wl']) await remove(k);
  });
});
