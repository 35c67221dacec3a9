/**
 * The `stargz-lazy` backend's local paths, through the real gRPC adapter on a temp unix
 * socket: every prepare that cannot become a remote snapshot is an ordinary overlay snapshot
 * that containerd fills, never ALREADY_EXISTS (containerd would retry forever). Real FUSE
 * process (started by the backend) for the cases that ask it, real docker-registry for a
 * blob that is not eStargz. Needs root. Also: the default start of the FUSE process at open,
 * and its exit once idle with no snaphost attached.
 */
import { execFileSync } from 'node:child_process';
import { access, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import backend from '../../../../../backends/stargz-lazy/index.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import { fusedPid, stopFused } from '../../../../../backends/stargz-lazy/fused-client/stop-fused.js';
import type { MountsResponse__Output } from '../../../../../core/grpc/generated/containerd/services/snapshots/v1/MountsResponse.js';
import type { Snapshotter } from '../../../../../core/sdk.js';
import { grpcError, listAll, serve, unary, type Served } from '../../../core/grpc/helpers.js';
import { startDockerRegistry, type DockerRegistry } from '../registry/servers/docker-registry.js';
import { closedPort } from '../registry/servers/listen.js';

/** Log lines of the backend, to tell why a prepare fell back. */
let lines: Record<string, unknown>[] = [];
const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
const fallbacks = () => lines.filter((l) => String(l['msg']).startsWith('layer not mounted remotely'));
const REF = 'containerd.io/snapshot.ref';
const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const d = (c: string) => `sha256:${c.repeat(64)}`;

let registry: DockerRegistry;
let plainDigest: string;
let root: string;
let sn: Snapshotter;
let served: Served;
const mounted: string[] = [];

beforeAll(async () => {
  registry = await startDockerRegistry();
  plainDigest = await registry.pushBlob('local/plain', Buffer.alloc(100_000, 7)); // not gzip, not eStargz
}, 30_000);

afterAll(async () => {
  await registry?.stop();
});

beforeEach(async () => {
  lines = [];
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-local-')));
  const options = backend.options.parse({
    registry: { retry: { retries: 0 }, timeouts: { connectMs: 1000, headersMs: 2000, bodyMs: 2000 } },
    mountTimeoutMs: 20_000,
    // These cases are about what starts the FUSE process; the start at open has its own test below.
    startFusedAtOpen: false,
  });
  sn = await backend.create(options, { name: 'stargz-lazy', root, log, signal: new AbortController().signal });
  served = await serve(sn, { backend: 'stargz-lazy', log });
});

afterEach(async () => {
  for (const m of mounted.splice(0).reverse()) {
    execFileSync('umount', [m]);
    await rm(m, { recursive: true, force: true });
  }
  await served?.close();
  await sn?.close?.();
  await stopFused(root);
  await rm(root, { recursive: true, force: true });
});

const prepare = (key: string, parent = '', labels: Record<string, string> = {}) =>
  unary<MountsResponse__Output>((cb) => served.client.prepare({ key, parent, labels }, cb));
const commit = (name: string, key: string, labels: Record<string, string> = {}) =>
  unary((cb) => served.client.commit({ name, key, labels }, cb));
const stat = (key: string) => unary<{ info: { name: string; parent: string; kind: string; labels: Record<string, string> } }>((cb) => served.client.stat({ key }, cb));

async function mountAt(m: MountsResponse__Output): Promise<string> {
  const mount = m.mounts[0]!;
  const target = await mkdtemp(path.join(tmpdir(), 'stargz-local-mnt-'));
  execFileSync('mount', ['-t', mount.type, '-o', mount.options.join(','), mount.source, target]);
  mounted.push(target);
  return target;
}

const fusedStarted = () => access(path.join(root, 'fused.sock')).then(() => true, () => false);
const mountsUnderRoot = () => readFile('/proc/self/mountinfo', 'utf8').then((t) => t.split('\n').filter((l) => l.includes(` ${root}/`)));

/** A layer pull as containerd does it: prepare, write into the mounts, commit, stat. */
async function pullLayer(key: string, name: string, parent: string, labels: Record<string, string>, file: string): Promise<void> {
  const m = await prepare(key, parent, labels);
  const t = await mountAt(m);
  await writeFile(path.join(t, file), file);
  execFileSync('umount', [t]);
  mounted.splice(mounted.indexOf(t), 1);
  await rm(t, { recursive: true, force: true });
  await commit(name, key, labels);
  expect((await stat(name)).info.kind).toBe('COMMITTED');
}

describe('stargz-lazy local paths', () => {
  it('without labels (ctr image pull, ctr run): overlay snapshots; no FUSE process is started', async () => {
    await pullLayer('ns/1/extract-1 sha256:a', 'ns/2/sha256:a', '', {}, 'one');
    await pullLayer('ns/3/extract-2 sha256:b', 'ns/4/sha256:b', 'ns/2/sha256:a', {}, 'two');
    const m = await prepare('ns/5/ctr', 'ns/4/sha256:b');
    expect(m.mounts[0]!.type).toBe('overlay');
    const t = await mountAt(m);
    expect((await readdir(t)).sort()).toEqual(['one', 'two']);
    expect(await fusedStarted()).toBe(false);
    expect((await readdir(root)).sort()).toEqual(['metadata', 'snapshots']);
  });

  it('with only containerd.io/snapshot.ref (containerd unpacker, no blob labels): an ordinary snapshot, no FUSE process', async () => {
    await pullLayer('ns/1/extract-1 sha256:a', 'ns/2/sha256:a', '', { [REF]: d('a') }, 'one');
    expect((await stat('ns/2/sha256:a')).info.labels).toEqual({ [REF]: d('a') });
    expect(await fusedStarted()).toBe(false);
  });

  it('malformed blob labels: an ordinary snapshot, not an error', async () => {
    await pullLayer('k1', 'n1', '', { [REF]: d('a'), [LABEL_STARGZ_REFERENCE]: 'NOT A REF', [LABEL_STARGZ_DIGEST]: 'nope' }, 'x');
    expect(lines.filter((l) => String(l['msg']).includes('labels are malformed'))).toHaveLength(1);
    expect(await fusedStarted()).toBe(false);
  });

  it('a layer without the TOC digest label: an ordinary snapshot, one warning naming it, no FUSE process', async () => {
    const reference = `${registry.host}/local/plain:latest`;
    const labels = { [REF]: d('b'), [LABEL_STARGZ_REFERENCE]: reference, [LABEL_STARGZ_DIGEST]: plainDigest };
    await pullLayer('ns/1/extract sha256:b', 'ns/2/sha256:b', '', labels, 'filled-by-containerd');
    const warned = lines.filter((l) => l['reason'] === 'unverified_layer');
    expect(warned).toEqual([expect.objectContaining({ level: 40, digest: plainDigest, reference, target: d('b') })]);
    expect(String(warned[0]!['msg'])).toContain(`layer ${plainDigest} of ${reference} not mounted lazily: it has no ${TOC} label`);
    expect(await fusedStarted()).toBe(false);
    expect((await stat('ns/2/sha256:b')).info.labels['containerd.io/snapshot/remote']).toBeUndefined();
  });

  it('a layer that is not eStargz: the FUSE process says so, the snapshot is ordinary and nothing stays mounted', async () => {
    // The TOC digest label (any: the blob is found not eStargz before its TOC is read) makes the
    // layer one the backend tries to mount lazily; without it, it falls back before that.
    const labels = { [REF]: d('c'), [LABEL_STARGZ_REFERENCE]: `${registry.host}/local/plain:latest`, [LABEL_STARGZ_DIGEST]: plainDigest, [TOC]: d('9') };
    await pullLayer('ns/1/extract sha256:c', 'ns/2/sha256:c', '', labels, 'filled-by-containerd');
    expect(await fusedStarted()).toBe(true);
    expect(fallbacks()).toMatchObject([{ level: 30, msg: expect.stringContaining('(not eStargz)') }]);
    expect(await mountsUnderRoot()).toEqual([]);
    expect((await stat('ns/2/sha256:c')).info.labels['containerd.io/snapshot/remote']).toBeUndefined();
    // the same layer again: still ordinary (its chain id was never committed by the backend)
    await pullLayer('ns/3/extract sha256:c', 'ns/4/sha256:c', '', labels, 'again');
  }, 60_000);

  it('a registry that cannot be reached: an ordinary snapshot, never ALREADY_EXISTS', async () => {
    const labels = { [REF]: d('e'), [LABEL_STARGZ_REFERENCE]: `127.0.0.1:${await closedPort()}/gone/image:v1`, [LABEL_STARGZ_DIGEST]: d('f'), [TOC]: d('9') };
    const m = await prepare('ns/1/extract sha256:e', '', labels);
    expect(m.mounts).toEqual([{ type: 'bind', source: path.join(root, 'snapshots/1/fs'), target: '', options: ['rw', 'rbind'] }]);
    expect(await mountsUnderRoot()).toEqual([]);
    expect(fallbacks()).toMatchObject([{ level: 40, code: 'UNAVAILABLE' }]);
    expect((await stat('ns/1/extract sha256:e')).info.kind).toBe('ACTIVE');
  }, 60_000);

  it('answers ALREADY_EXISTS at once only when containerd will find the target (same ref label and parent)', async () => {
    const target = d('9');
    await pullLayer('k-base', 'base', '', {}, 'base');
    // committed under the raw chain id with the ref label: what a remote prepare leaves
    const m = await prepare('k-t', 'base', { [REF]: target });
    await commit(target, 'k-t', { [REF]: target });
    const err = await grpcError(prepare('k-again', 'base', { [REF]: target }));
    expect(err.code).toBe(grpc.status.ALREADY_EXISTS);
    const found = await listAll(served.client, [`labels."${REF}"==${target},parent==base`]);
    expect(found.infos.map((i) => i.name)).toEqual([target]);
    // another parent: containerd's filtered List would not find it, so an ordinary snapshot
    const other = await prepare('k-other', '', { [REF]: target });
    expect(other.mounts[0]!.type).toBe('bind');
    expect(m.mounts[0]!.type).toBe('overlay');
    expect(await fusedStarted()).toBe(false);
  });

  it('ordinary errors stay errors: key taken, parent missing', async () => {
    await prepare('k', '', { [REF]: d('1') });
    expect((await grpcError(prepare('k', '', { [REF]: d('2') }))).code).toBe(grpc.status.ALREADY_EXISTS);
    expect((await grpcError(prepare('k2', 'missing', { [REF]: d('3') }))).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('stargz-lazy: the FUSE process started at open (the default)', () => {
  it('answers before the backend serves, stays while the backend is open, exits once idle after close', async () => {
    const r = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-open-')));
    try {
      const options = backend.options.parse({ fusedIdleExitMs: 300 });
      expect(options.startFusedAtOpen).toBe(true);
      const s = await backend.create(options, { name: 'stargz-lazy', root: r, log, signal: new AbortController().signal });
      const pid = await fusedPid(r);
      expect(pid).toBeGreaterThan(0);
      expect(lines.some((l) => l['msg'] === 'FUSE-serving process up')).toBe(true);
      // attached: idle for well over fusedIdleExitMs, yet still there
      await new Promise((res) => setTimeout(res, 1_000));
      expect(alive(pid!)).toBe(true);
      await s.close?.();
      const deadline = Date.now() + 10_000;
      while (alive(pid!) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(alive(pid!)).toBe(false);
      expect(await access(path.join(r, 'fused.sock')).then(() => true, () => false)).toBe(false);
    } finally {
      await stopFused(r);
      await rm(r, { recursive: true, force: true });
    }
  }, 30_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
