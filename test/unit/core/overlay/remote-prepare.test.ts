/**
 * The remote-snapshot protocol of the composed overlay snapshotter (core/overlay/remote-prepare.ts)
 * with a fake LayerHook that records every call: which prepare answers ALREADY_EXISTS and which
 * the ordinary snapshot's mounts, that labels are parsed once and layers checked once per call,
 * and that a snapshot's layer is released where its directory goes (remove, cleanup).
 * No kernel mounts: the fake "mounts" a layer by writing a file into its directory.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlreadyExistsError, FailedPreconditionError, UnavailableError } from '../../../../core/contract/errors.js';
import { LABEL_REMOTE, LABEL_TARGET_REF } from '../../../../core/contract/labels.js';
import type { Call, Labels } from '../../../../core/contract/snapshotter.js';
import { MemoryMetaStore } from '../../../../core/metastore/memory-metastore.js';
import type { MetaStore } from '../../../../core/metastore/metastore.js';
import { REMOTE_SNAPSHOT_LABEL_VALUE, type LayerDecision, type LayerHook, type RemoteLayerRef, type WriteHook } from '../../../../core/overlay/layer-hook.js';
import { createOverlaySnapshotter, type OverlaySnapshotter } from '../../../../core/overlay/overlay-snapshotter.js';

const lines: Record<string, unknown>[] = [];
const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
const call: Call = { signal: new AbortController().signal, log };
const LAYER = 'example.com/layer';
const msgs = () => lines.map((l) => l['msg']);

/** A hook whose layer is `labels[LAYER]`: "fallback:<why>" falls back, "fail" fails to mount. */
class FakeLayers implements LayerHook<string> {
  readonly events: string[] = [];
  readonly checked: string[][] = [];
  readonly notes: string[] = [];
  unavailable = new Set<string>();
  busy = new Set<string>();
  onMount: (() => Promise<void>) | undefined;
  parse(labels: Labels): LayerDecision<string> {
    const layer = labels[LAYER];
    this.events.push(`parse ${layer ?? '-'}`);
    if (layer === undefined) return undefined;
    if (layer.startsWith('fallback:')) return { fallback: layer, note: () => void this.notes.push(layer) };
    return { layer };
  }
  describe(layer: string) {
    return { layer };
  }
  async mount(mountpoint: string, layer: string, c: Call): Promise<void> {
    this.events.push(`mount ${layer}`);
    c.log.info('mounting');
    await this.onMount?.();
    if (layer === 'fail') throw new Error('no such layer');
    await writeFile(path.join(mountpoint, 'mounted'), layer);
  }
  async check(layers: readonly RemoteLayerRef[]): Promise<void> {
    this.checked.push(layers.map((l) => l.name));
    const bad = layers.find((l) => this.unavailable.has(l.name));
    if (bad) throw new UnavailableError(`remote snapshot ${JSON.stringify(bad.name)}: gone`);
  }
  async unmount(mountpoint: string): Promise<void> {
    this.events.push(`unmount ${path.basename(path.dirname(mountpoint))}`);
    await rm(path.join(mountpoint, 'mounted'), { force: true });
  }
  async release(dirs: readonly string[]): Promise<ReadonlySet<string>> {
    this.events.push(`release ${dirs.map((d) => path.basename(d)).join(',')}`);
    return new Set(dirs.filter((d) => this.busy.has(path.basename(d))));
  }
  async cleanup(): Promise<void> {
    this.events.push('cleanup');
  }
  async status(remote: readonly RemoteLayerRef[]) {
    return { diskBytes: 7, layers: remote.map((r) => ({ snapshot: r.name, digest: r.labels[LAYER] ?? '', reference: '', mountpoint: r.mountpoint, state: 'ready' as const })) };
  }
  async close(): Promise<void> {
    this.events.push('close');
  }
}

let dir: string;
let layers: FakeLayers;
let sn: OverlaySnapshotter;

function open(beforeWrite?: WriteHook): OverlaySnapshotter {
  sn = createOverlaySnapshotter({ store: new MemoryMetaStore(), dir, log, layers, ...(beforeWrite ? { beforeWrite } : {}) });
  return sn;
}
const remoteLabels = (target: string, layer: string): Labels => ({ [LABEL_TARGET_REF]: target, [LAYER]: layer });
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error & { code?: string });

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'remote-prepare-'));
  await mkdir(path.join(dir, 'snapshots'));
  layers = new FakeLayers();
  lines.length = 0;
  open();
});

afterEach(async () => {
  await sn.close();
  await rm(dir, { recursive: true, force: true });
});

describe('remote prepare: ALREADY_EXISTS', () => {
  it('mounts the layer, commits the snapshot under the target with the remote label, answers ALREADY_EXISTS', async () => {
    const err = await errorOf(sn.prepare('ns/1/extract L1', '', remoteLabels('L1', 'a'), call));
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect(err?.message).toBe('target snapshot "L1": prepared as a remote snapshot');
    expect(layers.events).toEqual(['parse a', 'mount a']);
    expect(layers.checked).toEqual([]); // no parent, no target yet: nothing to check
    expect(await sn.stat('L1', call)).toMatchObject({ kind: 'committed', parent: '', labels: { ...remoteLabels('L1', 'a'), [LABEL_REMOTE]: REMOTE_SNAPSHOT_LABEL_VALUE } });
    expect((await errorOf(sn.stat('ns/1/extract L1', call)))?.code).toBe('NOT_FOUND');
    expect(await readFile(path.join(dir, 'snapshots/1/fs/mounted'), 'utf8')).toBe('a');
    // mount's log and the protocol's carry the target and the hook's fields
    expect(lines.find((l) => l['msg'] === 'mounting')).toMatchObject({ target: 'L1', layer: 'a' });
    expect(lines.find((l) => l['msg'] === 'prepared remote snapshot')).toMatchObject({ target: 'L1', layer: 'a', ms: expect.any(Number) });
  });

  it('a target already committed with that parent and ref label answers at once, its layers checked once', async () => {
    await errorOf(sn.prepare('k1', '', remoteLabels('L1', 'a'), call));
    await errorOf(sn.prepare('k2', 'L1', remoteLabels('L2', 'b'), call));
    layers.events.length = 0;
    layers.checked.length = 0;
    const err = await errorOf(sn.prepare('other/k2', 'L1', remoteLabels('L2', 'b'), call));
    expect(err?.message).toBe('target snapshot "L2" already exists');
    expect(layers.events).toEqual(['parse b']);
    // once for the parent's layers, once for the target's (nearest first)
    expect(layers.checked).toEqual([['L1'], ['L2', 'L1']]);
    expect((await errorOf(sn.stat('other/k2', call)))?.code).toBe('NOT_FOUND');
  });

  it('takes two write transactions (the target or the create, then the commit) and one read for a parent', async () => {
    const inner = new MemoryMetaStore();
    const n = { read: 0, write: 0 };
    const store: MetaStore = {
      read: (fn) => (n.read++, inner.read(fn)),
      write: (fn) => (n.write++, inner.write(fn)),
      close: () => inner.close(),
    };
    await sn.close();
    sn = createOverlaySnapshotter({ store, dir, log, layers });
    await errorOf(sn.prepare('k1', '', remoteLabels('L1', 'a'), call));
    expect(n).toEqual({ read: 0, write: 2 });
    await errorOf(sn.prepare('k2', 'L1', remoteLabels('L2', 'b'), call));
    expect(n).toEqual({ read: 1, write: 4 }); // the read: the remote layers below the parent, checked once
    expect(layers.checked).toEqual([['L1']]);
  });

  it('concurrent prepares of one target run one after the other: one mount, both ALREADY_EXISTS', async () => {
    const errs = await Promise.all([1, 2, 3].map((i) => errorOf(sn.prepare(`ns/${i}/extract`, '', remoteLabels('L1', 'a'), call))));
    expect(errs.map((e) => e?.code)).toEqual(['ALREADY_EXISTS', 'ALREADY_EXISTS', 'ALREADY_EXISTS']);
    expect(layers.events.filter((e) => e.startsWith('mount'))).toEqual(['mount a']);
    expect(layers.events.filter((e) => e.startsWith('parse'))).toHaveLength(3);
  });

  it('a commit that fails because the target appeared meanwhile: unmount, remove the active snapshot, ALREADY_EXISTS', async () => {
    layers.onMount = async () => {
      layers.onMount = undefined;
      await sn.prepare('plain', '', {}, call);
      await sn.commit('L1', 'plain', { [LABEL_TARGET_REF]: 'L1' }, call);
    };
    const err = await errorOf(sn.prepare('k1', '', remoteLabels('L1', 'a'), call));
    expect(err?.message).toBe('target snapshot "L1" already exists');
    expect(msgs()).toContain('failed to commit remote snapshot');
    expect(layers.events).toEqual(['parse a', 'mount a', 'unmount 1', 'release 1']);
    expect((await errorOf(sn.stat('k1', call)))?.code).toBe('NOT_FOUND');
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual(['2']); // the target that appeared
  });
});

describe('remote prepare: the ordinary snapshot', () => {
  it('labels that name no layer: an ordinary snapshot, nothing noted', async () => {
    const m = await sn.prepare('k', '', { [LABEL_TARGET_REF]: 'L1' }, call);
    expect(m[0]!.source).toBe(path.join(dir, 'snapshots/1/fs'));
    expect(layers.events).toEqual(['parse -']);
    expect(layers.notes).toEqual([]);
    expect((await sn.stat('k', call)).kind).toBe('active');
  });

  it('a fallback decision: the ordinary snapshot, noted once after the create; not noted when the target exists', async () => {
    await sn.prepare('k', '', remoteLabels('L1', 'fallback:malformed'), call);
    expect(layers.notes).toEqual(['fallback:malformed']);
    await sn.commit('L1', 'k', { [LABEL_TARGET_REF]: 'L1' }, call);
    expect((await errorOf(sn.prepare('k2', '', remoteLabels('L1', 'fallback:malformed'), call)))?.code).toBe('ALREADY_EXISTS');
    expect((await errorOf(sn.prepare('L1', '', remoteLabels('L9', 'fallback:malformed'), call)))?.code).toBe('ALREADY_EXISTS'); // the key is taken
    expect(layers.notes).toEqual(['fallback:malformed']);
    expect(layers.events.filter((e) => e.startsWith('mount'))).toEqual([]);
  });

  it('a failed mount: the ordinary snapshot (the hook logs why)', async () => {
    const m = await sn.prepare('k', '', remoteLabels('L1', 'fail'), call);
    expect(m[0]!.source).toBe(path.join(dir, 'snapshots/1/fs'));
    expect((await sn.stat('k', call)).kind).toBe('active');
    expect((await errorOf(sn.stat('L1', call)))?.code).toBe('NOT_FOUND');
  });

  it('a target whose layer is not served: logged, an ordinary snapshot', async () => {
    await errorOf(sn.prepare('k1', '', remoteLabels('L1', 'a'), call));
    layers.unavailable.add('L1');
    const m = await sn.prepare('k2', '', remoteLabels('L1', 'a'), call);
    expect(m[0]!.source).toBe(path.join(dir, 'snapshots/2/fs'));
    expect(lines.find((l) => l['msg'] === 'target snapshot exists but its remote layer is not served; preparing an ordinary snapshot')).toMatchObject({ target: 'L1' });
    // as before the move: the layer is mounted again, its commit finds the target taken and not
    // usable, so the mount is undone and the ordinary snapshot answered
    expect(layers.events.filter((e) => /^(mount|unmount)/.test(e))).toEqual(['mount a', 'mount a', 'unmount 2']);
    expect(msgs()).toContain('failed to commit remote snapshot');
    expect((await sn.stat('k2', call)).kind).toBe('active');
  });

  it('a commit refused for another reason: unmount, the ordinary snapshot', async () => {
    open(async (change) => {
      if (change.op === 'commit') throw new FailedPreconditionError('no more remote snapshots');
    });
    const m = await sn.prepare('k', '', remoteLabels('L1', 'a'), call);
    expect(m[0]!.source).toBe(path.join(dir, 'snapshots/1/fs'));
    expect(layers.events).toEqual(['parse a', 'mount a', 'unmount 1']);
    expect(await readdir(path.join(dir, 'snapshots/1/fs'))).toEqual([]);
    expect((await sn.stat('k', call)).kind).toBe('active');
  });
});

describe('remote layers at or below', () => {
  beforeEach(async () => {
    await errorOf(sn.prepare('k1', '', remoteLabels('L1', 'a'), call));
    await sn.prepare('k2', 'L1', {}, call);
    await sn.commit('L2', 'k2', {}, call); // an ordinary layer on top of the remote one
    layers.checked.length = 0;
  });

  it('mounts, view and prepare check the remote layers at or below, once per call', async () => {
    await sn.prepare('c', 'L2', {}, call);
    await sn.view('v', 'L2', {}, call);
    await sn.mounts('c', call);
    expect(layers.checked).toEqual([['L1'], ['L1'], ['L1']]);
  });

  it("an unavailable layer below refuses them with the hook's error, and nothing is created", async () => {
    await sn.prepare('c', 'L2', {}, call);
    layers.unavailable.add('L1');
    for (const p of [sn.prepare('d', 'L2', {}, call), sn.view('v', 'L2', {}, call), sn.mounts('c', call)]) {
      const err = await errorOf(p);
      expect(err?.code).toBe('UNAVAILABLE');
      expect(err?.message).toBe('remote snapshot "L1": gone');
    }
    expect((await errorOf(sn.stat('d', call)))?.code).toBe('NOT_FOUND');
    expect((await errorOf(sn.stat('v', call)))?.code).toBe('NOT_FOUND');
  });

  it('a plain prepare without layers below asks nothing', async () => {
    await sn.prepare('c', '', {}, call);
    expect(layers.checked).toEqual([]);
  });
});

describe('release, cleanup, status, close', () => {
  it('remove releases the directory; a busy one stays for cleanup, which releases it again first', async () => {
    await errorOf(sn.prepare('k1', '', remoteLabels('L1', 'a'), call));
    await sn.prepare('k2', '', {}, call);
    layers.events.length = 0;
    await sn.remove('k2', call);
    expect(layers.events).toEqual(['release 2']);
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual(['1']);

    layers.busy.add('1');
    await sn.remove('L1', call);
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual(['1']); // busy: kept
    layers.events.length = 0;
    await sn.cleanup(call);
    expect(layers.events).toEqual(['cleanup', 'release 1']);
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual(['1']); // still busy
    layers.busy.clear();
    await sn.cleanup(call);
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual([]);
  });

  it('status: the hook\'s report on every remote layer, plus the snapshot count', async () => {
    await errorOf(sn.prepare('k1', '', remoteLabels('L1', 'a'), call));
    await sn.prepare('k2', 'L1', {}, call);
    expect(await sn.status!(call)).toEqual({
      snapshots: 2,
      diskBytes: 7,
      layers: [{ snapshot: 'L1', digest: 'a', reference: '', mountpoint: path.join(dir, 'snapshots/1/fs'), state: 'ready' }],
    });
  });

  it('close closes the hook, then the store', async () => {
    await sn.close();
    expect(layers.events).toEqual(['close']);
    expect((await errorOf(sn.stat('x', call)))?.code).toBe('UNAVAILABLE');
    open();
  });
});
