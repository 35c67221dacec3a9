import { describe, expect, it } from 'vitest';
import { criConfigFindings, criImageSettings, snapshotterOfImageFs, type CriObservation } from '../../../../core/containerd-check/cri-config-findings.js';

const backends = [
  { name: 'stargz-lazy', remoteSnapshots: true, root: '/var/lib/snaphost/stargz-lazy' },
  { name: 'overlayfs-native', remoteSnapshots: false, root: '/var/lib/snaphost/overlayfs-native' },
];
const ready = [
  { type: 'RuntimeReady', status: true, reason: '', message: '' },
  { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: 'cni plugin not initialized' },
];
/** The shape containerd 1.6's Status(verbose) reports (trimmed). */
function v1Info(containerd: Record<string, unknown>): Record<string, string> {
  return { config: JSON.stringify({ containerd: { defaultRuntimeName: 'runc', runtimes: { runc: { runtimeType: 'io.containerd.runc.v2' } }, ...containerd }, containerdRootDir: '/var/lib/containerd' }) };
}
/** containerd 2.1.9 reports the runtime config only: no image settings. */
const v2Info = { config: JSON.stringify({ containerd: { defaultRuntimeName: 'runc', runtimes: { runc: { runtimeType: 'io.containerd.runc.v2', snapshotter: '' } } }, containerdRootDir: '/var/lib/containerd' }) };

function obs(o: Partial<CriObservation>): CriObservation {
  return { major: 1, backends, conditions: ready, info: v1Info({ snapshotter: 'stargz-lazy', disableSnapshotAnnotations: false }), ...o };
}
const codes = (o: CriObservation) => criConfigFindings(o).map((f) => `${f.backend ?? '-'} ${f.severity} ${f.code}`);

describe('criImageSettings', () => {
  it('reads 1.x image settings and per-runtime snapshotters', () => {
    const s = criImageSettings(v1Info({ snapshotter: 'overlayfs', disableSnapshotAnnotations: true, runtimes: { runc: {}, lazy: { snapshotter: 'stargz-lazy' } } }));
    expect(s).toEqual({ snapshotter: 'overlayfs', disableSnapshotAnnotations: true, runtimeSnapshotters: new Map([['stargz-lazy', ['lazy']]]) });
  });
  it('finds no image settings in what 2.x reports', () => {
    expect(criImageSettings(v2Info)).toEqual({ runtimeSnapshotters: new Map() });
  });
  it('says what is wrong with a missing or broken config', () => {
    expect(criImageSettings({})).toEqual({ error: expect.stringMatching(/no `config`/) });
    expect(criImageSettings({ config: '{nope' })).toEqual({ error: expect.stringMatching(/not JSON/) });
    expect(criImageSettings({ config: '[1]' })).toEqual({ error: expect.stringMatching(/not a JSON object/) });
  });
});

describe('snapshotterOfImageFs', () => {
  it("knows a backend by its root (2.x exports.root) or by containerd's directory name", () => {
    expect(snapshotterOfImageFs('/var/lib/snaphost/stargz-lazy/', backends)).toBe('stargz-lazy');
    expect(snapshotterOfImageFs('/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs', backends)).toBe('overlayfs');
    expect(snapshotterOfImageFs('/somewhere/else', backends)).toBeUndefined();
  });
});

describe('criConfigFindings', () => {
  it('1.x, lazy backend as CRI snapshotter with annotations on: all ok', () => {
    expect(codes(obs({ imageFs: [{ mountpoint: '/var/lib/containerd/io.containerd.snapshotter.v1.stargz-lazy', exists: true }] }))).toEqual([
      'stargz-lazy ok cri-snapshotter',
      'stargz-lazy ok cri-lazy-pull-on',
      'overlayfs-native ok cri-not-used',
    ]);
  });

  it('1.x, annotations at their default (true): lazy pulling silently off, named with the table and key', () => {
    const f = criConfigFindings(obs({ info: v1Info({ snapshotter: 'stargz-lazy', disableSnapshotAnnotations: true }) }));
    const off = f.find((x) => x.code === 'cri-snapshot-annotations-off');
    expect(off).toMatchObject({ backend: 'stargz-lazy', severity: 'warning' });
    expect(off?.message).toContain('disable_snapshot_annotations = false in [plugins."io.containerd.grpc.v1.cri".containerd]');
  });

  it('annotations do not matter for a backend without remote snapshots', () => {
    expect(codes(obs({ info: v1Info({ snapshotter: 'overlayfs-native', disableSnapshotAnnotations: true }) }))).toEqual([
      'stargz-lazy ok cri-not-used',
      'overlayfs-native ok cri-snapshotter',
    ]);
  });

  it('a backend used by a runtime handler only is checked like the default one', () => {
    expect(codes(obs({ info: v1Info({ snapshotter: 'overlayfs', disableSnapshotAnnotations: true, runtimes: { lazy: { snapshotter: 'stargz-lazy' } } }) }))).toEqual([
      'stargz-lazy ok cri-runtime-snapshotter',
      'stargz-lazy warning cri-snapshot-annotations-off',
      'overlayfs-native ok cri-not-used',
    ]);
  });

  it("kubelet's image-fs directory missing: a warning naming containerdRoot", () => {
    const f = criConfigFindings(obs({ imageFs: [{ mountpoint: '/var/lib/containerd/io.containerd.snapshotter.v1.stargz-lazy', exists: false }] }));
    expect(f.find((x) => x.code === 'cri-image-fs-missing')?.message).toMatch(/failed to get device for dir.*containerdRoot/);
  });

  it('2.x: the snapshotter comes from ImageFsInfo (exports.root); the image settings are not reported, which is said', () => {
    expect(codes(obs({ major: 2, info: v2Info, imageFs: [{ mountpoint: '/var/lib/snaphost/stargz-lazy', exists: true }] }))).toEqual([
      'stargz-lazy ok cri-snapshotter',
      'stargz-lazy warning cri-image-config-unreported',
      'overlayfs-native ok cri-not-used',
    ]);
    const f = criConfigFindings(obs({ major: 2, info: v2Info, imageFs: [{ mountpoint: '/var/lib/snaphost/stargz-lazy', exists: true }] }));
    expect(f[1]!.message).toContain('[plugins."io.containerd.cri.v1.images"]');
  });

  it('2.x reporting its image settings: local image pull vs the transfer service', () => {
    const info = (s: object) => ({ config: JSON.stringify({ snapshotter: 'stargz-lazy', ...s }) });
    expect(codes(obs({ major: 2, info: info({ disableSnapshotAnnotations: false }) }))).toContain('stargz-lazy ok cri-local-image-pull');
    expect(codes(obs({ major: 2, info: info({ disableSnapshotAnnotations: true }) }))).toContain('stargz-lazy ok cri-transfer-service-pull');
  });

  it('unknown snapshotter, unreadable config and a runtime that is not ready are findings', () => {
    expect(codes(obs({ info: {}, conditions: [{ type: 'RuntimeReady', status: false, reason: 'X', message: 'broken' }] }))).toEqual([
      '- error cri-runtime-not-ready',
      '- warning cri-config-unreadable',
      '- warning cri-snapshotter-unknown',
      'stargz-lazy ok cri-not-used',
      'overlayfs-native ok cri-not-used',
    ]);
  });
});
