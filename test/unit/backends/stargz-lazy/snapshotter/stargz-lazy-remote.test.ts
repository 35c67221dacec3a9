/**
 * The remote-snapshot protocol of `stargz-lazy`, end to end below containerd: a real
 * docker-registry serving the eStargz fixture blobs, the real FUSE-serving process (started by
 * the backend; `npm run build` first, it runs from dist/), the real gRPC adapter on a temp
 * unix socket, and the calls containerd makes (Prepare with the ctr-remote labels ->
 * ALREADY_EXISTS, filtered List, Stat, then View/Prepare on top, Remove, Cleanup). Needs root.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, readlink, realpath, rm, stat as fsStat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import backend from '../../../../../backends/stargz-lazy/index.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_LAYERS, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import { fusedPid, stopFused } from '../../../../../backends/stargz-lazy/fused-client/stop-fused.js';
import { keeperOf } from '../../../../../backends/stargz-lazy/fuse-kernel/keeper/keeper-of.js';
import type { MountsResponse__Output } from '../../../../../core/grpc/generated/containerd/services/snapshots/v1/MountsResponse.js';
import type { Snapshotter } from '../../../../../core/sdk.js';
import { grpcError, listAll, serve, unary, type Served } from '../../../core/grpc/helpers.js';
import { startDockerRegistry, type DockerRegistry } from '../registry/servers/docker-registry.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures/estargz');
const REF = 'containerd.io/snapshot.ref';
const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const chain = (c: string) => `sha256:${c.repeat(64)}`;

interface Expected {
  tocDigest: string;
  entries: { name: string; type: string; sha256?: string; linkName?: string; mode: number }[];
}

let lines: Record<string, unknown>[] = [];
const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
let registry: DockerRegistry;
let root: string;
let sn: Snapshotter | undefined;
let served: Served | undefined;
const layers: { digest: string; toc: string; expected: Expected }[] = [];
const mounted: string[] = [];

async function open(): Promise<void> {
  sn = await backend.create(backend.options.parse({}), { name: 'stargz-lazy', root, log, signal: new AbortController().signal });
  served = await serve(sn, { backend: 'stargz-lazy', log });
}

async function shut(): Promise<void> {
  await served?.close();
  await sn?.close?.();
  served = undefined;
  sn = undefined;
}

beforeAll(async () => {
  registry = await startDockerRegistry();
  for (const name of ['full', 'plain']) {
    const expected = JSON.parse(await readFile(path.join(FIXTURES, `${name}.expected.json`), 'utf8')) as Expected;
    const digest = await registry.pushBlob('remote/image', await readFile(path.join(FIXTURES, `${name}.estargz`)));
    layers.push({ digest, toc: expected.tocDigest, expected });
  }
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-remote-')));
  await open();
}, 60_000);

afterAll(async () => {
  for (const m of mounted.splice(0).reverse()) execFileSync('umount', ['-l', m]);
  await shut();
  if (root) {
    await stopFused(root);
    await rm(root, { recursive: true, force: true });
  }
  await registry?.stop();
});

const client = () => served!.client;
const prepare = (key: string, parent = '', labels: Record<string, string> = {}) =>
  unary<MountsResponse__Output>((cb) => client().prepare({ key, parent, labels }, cb));
const view = (key: string, parent: string) => unary<MountsResponse__Output>((cb) => client().view({ key, parent, labels: {} }, cb));
const remove = (key: string) => unary((cb) => client().remove({ key }, cb));
const cleanup = () => unary((cb) => client().cleanup({}, cb));
const stat = (key: string) =>
  unary<{ info: { name: string; parent: string; kind: string; labels: Record<string, string> } }>((cb) => client().stat({ key }, cb));

/** The labels ctr-remote rpull and containerd's unpacker send for layer `i` of the image. */
function labelsOf(i: number, target: string): Record<string, string> {
  return {
    [REF]: target,
    [LABEL_STARGZ_REFERENCE]: `${registry.host}/remote/image:esgz`,
    [LABEL_STARGZ_DIGEST]: layers[i]!.digest,
    [LABEL_STARGZ_LAYERS]: layers.slice(i).map((l) => l.digest).join(','),
    [TOC]: layers[i]!.toc,
  };
}

async function mountAt(m: MountsResponse__Output): Promise<string> {
  const mount = m.mounts[0]!;
  const target = await mkdtemp(path.join(tmpdir(), 'stargz-remote-mnt-'));
  execFileSync('mount', ['-t', mount.type, '-o', mount.options.join(','), mount.source, target]);
  mounted.push(target);
  return target;
}

async function unmount(target: string): Promise<void> {
  execFileSync('umount', [target]);
  mounted.splice(mounted.indexOf(target), 1);
  await rm(target, { recursive: true, force: true });
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const fuseMounts = async () =>
  (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((l) => l.includes(` ${root}/snapshots/`))
    .map((l) => l.split(' ')[4]);

/** Every regular file and symlink of layer `i` reads as the writer wrote it. */
async function expectLayerFiles(dir: string, i: number): Promise<void> {
  for (const e of layers[i]!.expected.entries) {
    if (e.name.includes('.wh.')) continue;
    const p = path.join(dir, e.name);
    if (e.type === 'reg') expect(sha256(await readFile(p)), e.name).toBe(e.sha256);
    if (e.type === 'symlink') expect(await readlink(p), e.name).toBe(e.linkName);
  }
}

describe('stargz-lazy remote snapshots', () => {
  const L1 = chain('1');
  const L2 = chain('2');

  it('prepare with the rpull labels mounts the layer, commits it under the chain id and answers ALREADY_EXISTS', async () => {
    const started = Date.now();
    const err = await grpcError(prepare('ns/1/extract-1 ' + L1, '', labelsOf(0, L1)));
    expect(err.code, err.details).toBe(grpc.status.ALREADY_EXISTS);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(lines.some((l) => l['msg'] === 'prepared remote snapshot')).toBe(true);

    // what containerd does next (metadata/snapshot.go createSnapshot): a filtered List, then Stat
    const found = await listAll(client(), [`labels."${REF}"==${L1},parent==""`]);
    expect(found.infos.map((i) => [i.name, i.parent, i.kind])).toEqual([[L1, '', 'COMMITTED']]);
    const info = (await stat(L1)).info;
    expect(info.labels).toEqual({ ...labelsOf(0, L1), 'containerd.io/snapshot/remote': 'remote snapshot' });
    // the extraction key is gone: it became the committed snapshot
    expect((await grpcError(stat('ns/1/extract-1 ' + L1))).code).toBe(grpc.status.NOT_FOUND);
    expect(await fuseMounts()).toEqual([path.join(root, 'snapshots/1/fs')]);
  }, 30_000);

  it('the next layer goes on top of it (parent = the raw chain id); the same layer again answers at once', async () => {
    const err = await grpcError(prepare('ns/2/extract-2 ' + L2, L1, labelsOf(1, L2)));
    expect(err.code, err.details).toBe(grpc.status.ALREADY_EXISTS);
    expect((await stat(L2)).info).toMatchObject({ name: L2, parent: L1, kind: 'COMMITTED' });

    const before = lines.length;
    const again = await grpcError(prepare('other-ns/7/extract ' + L2, L1, labelsOf(1, L2)));
    expect(again.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(lines.slice(before).some((l) => l['msg'] === 'prepared remote snapshot')).toBe(false);
    expect((await grpcError(stat('other-ns/7/extract ' + L2))).code).toBe(grpc.status.NOT_FOUND);
    expect(await fuseMounts()).toHaveLength(2);
  }, 30_000);

  it('a View on one remote layer mounts and reads its files, verified', async () => {
    const m = await view('ns/3/view', L1);
    expect(m.mounts).toEqual([{ type: 'bind', source: path.join(root, 'snapshots/1/fs'), target: '', options: ['ro', 'rbind'] }]);
    const t = await mountAt(m);
    await expectLayerFiles(t, 0);
    expect((await fsStat(path.join(t, 'data/small.txt'))).ino).toBe((await fsStat(path.join(t, 'data/hard-to-small'))).ino);
    await unmount(t);
    await remove('ns/3/view');
  }, 30_000);

  it('a container on both layers: overlay over the FUSE mounts, writes go to its own upper dir', async () => {
    const m = await prepare('ns/4/ctr', L2);
    const opts = m.mounts[0]!.options;
    expect(m.mounts[0]!.type).toBe('overlay');
    expect(opts.at(-1)).toBe(`lowerdir=${path.join(root, 'snapshots/2/fs')}:${path.join(root, 'snapshots/1/fs')}`);
    const t = await mountAt(m);
    await expectLayerFiles(t, 0);
    await expectLayerFiles(t, 1);
    expect((await readdir(t)).includes('removed-file')).toBe(false);
    await writeFile(path.join(t, 'written'), 'by the container');
    const upper = opts.find((o) => o.startsWith('upperdir='))!.slice('upperdir='.length);
    expect(await readFile(path.join(upper, 'written'), 'utf8')).toBe('by the container');
    await unmount(t);
  }, 30_000);

  it('a restart of snaphost leaves the FUSE process serving; the snapshots are there and read', async () => {
    await shut();
    lines = [];
    await open();
    expect(lines.some((l) => l['msg'] === 'attached to the running FUSE process' && l['mounts'] === 2 && l['unknown'] === 0)).toBe(true);
    const t = await mountAt(await view('ns/5/view', L2));
    await expectLayerFiles(t, 1);
    await unmount(t);
    await remove('ns/5/view');
  }, 30_000);

  it('remove refuses while children exist, then unmounts each remote layer; cleanup removes the directories', async () => {
    expect((await grpcError(remove(L1))).code).toBe(grpc.status.FAILED_PRECONDITION);
    await remove('ns/4/ctr');
    await remove(L2);
    expect(await fuseMounts()).toEqual([path.join(root, 'snapshots/1/fs')]);
    await remove(L1);
    expect(await fuseMounts()).toEqual([]);
    await cleanup();
    expect(await readdir(path.join(root, 'snapshots'))).toEqual([]);
    expect((await listAll(client())).infos).toEqual([]);
  }, 30_000);

  it('a layer whose FUSE process stopped is not offered: UNAVAILABLE below it, an ordinary snapshot for its chain id', async () => {
    expect((await grpcError(prepare('ns/8/extract ' + L1, '', labelsOf(0, L1)))).code).toBe(grpc.status.ALREADY_EXISTS);
    await prepare('ns/9/ctr', L1);
    expect(await stopFused(root)).toBe(true); // SIGTERM: it unmounts every layer and exits
    expect(await fuseMounts()).toEqual([]);
    const err = await grpcError(unary((cb) => client().mounts({ key: 'ns/9/ctr' }, cb)));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toContain(`remote snapshot "${L1}": its layer is not mounted`);
    expect((await grpcError(view('ns/10/view', L1))).code).toBe(grpc.status.UNAVAILABLE);
    // containerd pulling the layer again gets an ordinary snapshot, never ALREADY_EXISTS
    const m = await prepare('other/1/extract ' + L1, '', { [REF]: L1 });
    expect(m.mounts[0]!.type).toBe('bind');
    await remove('other/1/extract ' + L1);
    await remove('ns/9/ctr');
    await remove(L1);
  }, 30_000);

  it('a FUSE process (and its keeper) killed with SIGKILL leaves dead mounts: UNAVAILABLE, and remove still detaches them', async () => {
    expect((await grpcError(prepare('ns/11/extract ' + L1, '', labelsOf(0, L1)))).code).toBe(grpc.status.ALREADY_EXISTS);
    await prepare('ns/12/ctr', L1);
    const pid = await fusedPid(root);
    expect(pid).toBeGreaterThan(0);
    const keeper = await keeperOf(pid!); // it would take the connections over (fuse-kernel/keeper/)
    if (keeper !== undefined) process.kill(keeper, 'SIGKILL');
    process.kill(pid!, 'SIGKILL');
    while (await fusedPid(root)) await new Promise((r) => setTimeout(r, 50));
    expect(await fuseMounts()).toHaveLength(1); // the kernel keeps the mount; it answers ENOTCONN
    const err = await grpcError(unary((cb) => client().mounts({ key: 'ns/12/ctr' }, cb)));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toMatch(/does not answer \(ENOTCONN\)/);
    await remove('ns/12/ctr');
    await remove(L1);
    expect(await fuseMounts()).toEqual([]);
    // the next remote prepare starts a new FUSE process (the client it had no longer answers)
    const L3 = chain('3');
    expect((await grpcError(prepare('ns/13/extract ' + L3, '', labelsOf(0, L3)))).code).toBe(grpc.status.ALREADY_EXISTS);
    expect(await fusedPid(root)).not.toBe(pid);
    expect(lines.some((l) => l['msg'] === 'the FUSE-serving process does not answer; starting it again')).toBe(true);
    await remove(L3);
    await cleanup();
    expect(await readdir(path.join(root, 'snapshots'))).toEqual([]);
  }, 30_000);
});
