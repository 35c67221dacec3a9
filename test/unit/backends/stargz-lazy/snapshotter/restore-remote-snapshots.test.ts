/**
 * Restore on start and the explicit full stop of `stargz-lazy`, with the real FUSE-serving
 * process (`npm run build` first: it runs from dist/), a real docker-registry holding the
 * eStargz fixture blobs, and real mounts. The FUSE process is killed (SIGKILL: its mounts stay
 * and answer ENOTCONN) or stopped (SIGTERM: it unmounts everything), snaphost's backend is
 * opened again, and the remote snapshots must be served again, or named with the reason they
 * could not be. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import backend from '../../../../../backends/stargz-lazy/index.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_LAYERS, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import type { RestoreGated } from '../../../../../backends/stargz-lazy/snapshotter/restore-gate.js';
import type { RestoreSummary } from '../../../../../backends/stargz-lazy/snapshotter/restore-remote-snapshots.js';
import { fusedPid, stopFused } from '../../../../../backends/stargz-lazy/fused-client/stop-fused.js';
import type { Call, Mount } from '../../../../../core/sdk.js';
import { startDockerRegistry, type DockerRegistry } from '../registry/servers/docker-registry.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures/estargz');
const REF = 'containerd.io/snapshot.ref';
const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const chain = (c: string) => `sha256:${c.repeat(64)}`;
const L1 = chain('a');
const L2 = chain('b');

interface Expected {
  tocDigest: string;
  entries: { name: string; type: string; sha256?: string }[];
}

let lines: Record<string, unknown>[] = [];
const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
const call: Call = { signal: new AbortController().signal, log };
let registry: DockerRegistry | undefined;
let root: string;
let sn: RestoreGated | undefined;
const layers: { digest: string; toc: string; expected: Expected }[] = [];
const mounted: string[] = [];
// fuse-native: a killed FUSE process leaves dead mounts here. Under the kernel transport its
// keeper takes the connections over instead (test/unit/.../fuse-kernel/keeper/, the handover e2e).
const options = backend.options.parse({ mountTimeoutMs: 5_000, fs: { transport: 'fuse-native' } });

async function open(): Promise<RestoreGated> {
  lines = [];
  sn = (await backend.create(options, { name: 'stargz-lazy', root, log, signal: new AbortController().signal })) as RestoreGated;
  return sn;
}

async function reopen(): Promise<RestoreSummary> {
  await sn?.close();
  sn = undefined;
  const started = Date.now();
  const s = await open();
  expect(Date.now() - started, 'create does not wait for the restore').toBeLessThan(4_000);
  const summary = await s.restored();
  expect(summary).toBeDefined();
  return summary!;
}

function labelsOf(i: number, target: string): Record<string, string> {
  return {
    [REF]: target,
    [LABEL_STARGZ_REFERENCE]: `${registry!.host}/restore/image:esgz`,
    [LABEL_STARGZ_DIGEST]: layers[i]!.digest,
    [LABEL_STARGZ_LAYERS]: layers.slice(i).map((l) => l.digest).join(','),
    [TOC]: layers[i]!.toc,
  };
}

async function prepareRemote(i: number, target: string, parent: string): Promise<void> {
  await expect(sn!.prepare(`ns/${i}/extract ${target}`, parent, labelsOf(i, target), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
}

async function mountAt(ms: Mount[]): Promise<string> {
  const m = ms[0]!;
  const target = await mkdtemp(path.join(tmpdir(), 'stargz-restore-mnt-'));
  execFileSync('mount', ['-t', m.type, '-o', m.options.join(','), m.source, target]);
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

/** Every regular file of both layers reads as the writer wrote it, through a container's rootfs. */
async function expectFilesRead(key: string): Promise<void> {
  const t = await mountAt(await sn!.mounts(key, call));
  try {
    for (const layer of layers) {
      for (const e of layer.expected.entries) {
        if (e.type !== 'reg' || e.name.includes('.wh.')) continue; // the two layers share no path
        expect(sha256(await readFile(path.join(t, e.name))), e.name).toBe(e.sha256);
      }
    }
  } finally {
    await unmount(t);
  }
}

async function killFused(): Promise<number> {
  const pid = await fusedPid(root);
  expect(pid).toBeGreaterThan(0);
  process.kill(pid!, 'SIGKILL');
  while (await fusedPid(root)) await new Promise((r) => setTimeout(r, 50));
  return pid!;
}

const logged = (msg: RegExp) => lines.filter((l) => typeof l['msg'] === 'string' && msg.test(l['msg']));

beforeAll(async () => {
  registry = await startDockerRegistry();
  for (const name of ['full', 'plain']) {
    const expected = JSON.parse(await readFile(path.join(FIXTURES, `${name}.expected.json`), 'utf8')) as Expected;
    const digest = await registry.pushBlob('restore/image', await readFile(path.join(FIXTURES, `${name}.estargz`)));
    layers.push({ digest, toc: expected.tocDigest, expected });
  }
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-restore-')));
  await open();
  await prepareRemote(0, L1, '');
  await prepareRemote(1, L2, L1);
  await sn!.prepare('ns/9/ctr', L2, {}, call);
}, 60_000);

afterAll(async () => {
  for (const m of mounted.splice(0).reverse()) execFileSync('umount', ['-l', m]);
  await sn?.close();
  if (root) {
    await stopFused(root);
    await rm(root, { recursive: true, force: true });
  }
  await registry?.stop();
});

describe('stargz-lazy restore on start', () => {
  it('a restart with the FUSE process alive restores nothing: its mounts are served', async () => {
    const pid = await fusedPid(root);
    const summary = await reopen();
    expect(summary).toMatchObject({ restored: [], failed: [], served: 2 });
    expect(await fusedPid(root)).toBe(pid);
    await expectFilesRead('ns/9/ctr');
  }, 30_000);

  it('the FUSE process killed (dead mounts answer ENOTCONN): they are detached and every layer is mounted again', async () => {
    const old = await killFused();
    expect(await fuseMounts()).toHaveLength(2);
    await expect(sn!.mounts('ns/9/ctr', call)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const summary = await reopen();
    expect(summary.restored.sort()).toEqual([L1, L2].sort());
    expect(summary.failed).toEqual([]);
    expect(await fusedPid(root)).not.toBe(old);
    expect(await fuseMounts()).toHaveLength(2);
    for (const name of [L1, L2]) expect(logged(new RegExp(`^restored remote snapshot ${name}$`)), name).toHaveLength(1);
    expect(logged(/^restore of remote snapshots: 2 restored, 0 failed, 0 already served, \d+ ms$/)).toHaveLength(1);
    await expectFilesRead('ns/9/ctr');
  }, 30_000);

  it('the FUSE process stopped (no mounts left): the layers are mounted again', async () => {
    expect(await stopFused(root)).toBe(true);
    expect(await fuseMounts()).toEqual([]);
    const summary = await reopen();
    expect(summary.restored.sort()).toEqual([L1, L2].sort());
    await expectFilesRead('ns/9/ctr');
  }, 30_000);

  it('a snapshot whose labels no longer name a blob is named with the reason; the others are restored', async () => {
    await sn!.update({ name: L2, labels: {} }, [`labels.${LABEL_STARGZ_DIGEST}`, `labels.${LABEL_STARGZ_REFERENCE}`], call);
    await killFused();
    const summary = await reopen();
    expect(summary.restored).toEqual([L1]);
    expect(summary.failed).toEqual([{ name: L2, mountpoint: expect.stringMatching(/\/snapshots\/\d+\/fs$/), reason: 'labels-missing', message: expect.any(String) }]);
    const line = logged(new RegExp(`^remote snapshot ${L2} could not be restored \\(labels-missing\\)`));
    expect(line).toHaveLength(1);
    expect(line[0]).toMatchObject({ level: 50, snapshot: L2, reason: 'labels-missing' });
    expect(logged(/^restore of remote snapshots: 1 restored, 1 failed/)).toHaveLength(1);
    // the snapshot stays recorded; calls on it answer UNAVAILABLE
    expect((await sn!.stat(L2, call)).name).toBe(L2);
    await expect(sn!.mounts('ns/9/ctr', call)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await sn!.update({ name: L2, labels: labelsOf(1, L2) }, [`labels.${LABEL_STARGZ_DIGEST}`, `labels.${LABEL_STARGZ_REFERENCE}`], call);
  }, 30_000);

});

describe('stargz-lazy shutdown (snaphost shutdown, after the daemon stopped)', () => {
  const ctx = () => ({ name: 'stargz-lazy', root, log, signal: new AbortController().signal });

  it('no FUSE process running, dead layer mounts left: they are detached', async () => {
    await sn!.close();
    sn = undefined;
    await killFused();
    const dead = await fuseMounts();
    expect(dead.length).toBeGreaterThan(0);
    expect(await backend.shutdown!(options, ctx())).toBe(`no FUSE-serving process was running for ${root}; detached ${dead.length} layer mount(s) left behind`);
    expect(await fuseMounts()).toEqual([]);
  }, 30_000);

  it('stops the running FUSE process, which unmounts every layer; then says that nothing runs', async () => {
    expect((await reopen()).restored.sort()).toEqual([L1, L2].sort());
    await sn!.close();
    sn = undefined;
    const pid = await fusedPid(root);
    expect(pid).toBeGreaterThan(0);
    expect(await backend.shutdown!(options, ctx())).toBe(`stopped the FUSE-serving process ${pid} of ${root} (it unmounted its layers lazily)`);
    expect(await fusedPid(root)).toBeUndefined();
    expect(await fuseMounts()).toEqual([]);
    expect(await backend.shutdown!(options, ctx())).toBe(`no FUSE-serving process was running for ${root}`);
  }, 30_000);
});

describe('stargz-lazy restore on start without a registry', () => {
  it('the registry gone: the snapshots are named as not restored (registry unreachable), within the bound; start did not wait', async () => {
    await registry!.stop();
    registry = undefined;
    const started = Date.now();
    const summary = await reopen();
    expect(Date.now() - started).toBeLessThan(2 * options.mountTimeoutMs + 3_000);
    expect(summary.restored).toEqual([]);
    expect(summary.failed.map((f) => [f.name, f.reason]).sort()).toEqual([
      [L1, expect.stringMatching(/^(registry-unreachable|timeout)$/)],
      [L2, expect.stringMatching(/^(registry-unreachable|timeout)$/)],
    ].sort());
    for (const name of [L1, L2]) expect(logged(new RegExp(`^remote snapshot ${name} could not be restored`)), name).toHaveLength(1);
    await expect(sn!.mounts('ns/9/ctr', call)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    // local snapshots keep working
    const m = await sn!.prepare('ns/10/local', '', {}, call);
    expect(m[0]!.type).toBe('bind');
    await sn!.remove('ns/10/local', call);
  }, 60_000);
});
