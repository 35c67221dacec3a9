import { describe, expect, it } from 'vitest';
import { INIT_ERROR_MAX_CHARS, snapshotterPluginFindings } from '../../../../core/containerd-check/plugin-findings.js';
import type { ContainerdPlugin } from '../../../../core/grpc/containerd-introspection.js';

const backend = (name: string) => ({ name, socket: `/run/snaphost/${name}.sock`, root: `/var/lib/snaphost/${name}`, remoteSnapshots: false });
const plugin = (id: string, extra: Partial<ContainerdPlugin> = {}): ContainerdPlugin => ({ type: 'io.containerd.snapshotter.v1', id, exports: {}, capabilities: [], ...extra });

describe('snapshotterPluginFindings', () => {
  it('ok, missing and not ok, one finding per backend in order', () => {
    const f = snapshotterPluginFindings([backend('memory'), backend('absent'), backend('broken')], [plugin('overlayfs'), plugin('memory'), plugin('broken', { initError: { code: 2, message: 'dial failed:\n  no such file' } })], 1);
    expect(f.map((x) => [x.backend, x.severity, x.code])).toEqual([
      ['memory', 'ok', 'proxy-plugin-ok'],
      ['absent', 'error', 'proxy-plugin-missing'],
      ['broken', 'error', 'proxy-plugin-not-ok'],
    ]);
    expect(f[1]!.message).toContain('[proxy_plugins."absent"]');
    expect(f[1]!.message).toContain('address = "/run/snaphost/absent.sock"');
    expect(f[1]!.message).toContain('`snaphost containerd-config`');
    expect(f[2]!.message).toContain('failed to initialize: dial failed: no such file;');
  });

  it('a plugin of another type with the same id does not count', () => {
    const f = snapshotterPluginFindings([backend('memory')], [plugin('memory', { type: 'io.containerd.differ.v1' })], 2);
    expect(f[0]!.code).toBe('proxy-plugin-missing');
    expect(f[0]!.message).toContain('`snaphost containerd-config --containerd 2`');
  });

  it("bounds containerd's init error text", () => {
    const f = snapshotterPluginFindings([backend('b')], [plugin('b', { initError: { code: 13, message: 'x'.repeat(5000) } })], 1);
    const quoted = /initialize: (x+…)/.exec(f[0]!.message)![1]!;
    expect(quoted.length).toBe(INIT_ERROR_MAX_CHARS);
  });

  it('an init error without text names the gRPC code', () => {
    const f = snapshotterPluginFindings([backend('b')], [plugin('b', { initError: { code: 14, message: '' } })], 1);
    expect(f[0]!.message).toContain('gRPC code 14');
  });

  it('containerd 2.x: exports.root that is not the backend root is a warning; the same root (or none) is not', () => {
    const f = snapshotterPluginFindings([backend('a'), backend('b'), backend('c')], [plugin('a', { exports: { root: '/elsewhere' } }), plugin('b', { exports: { root: '/var/lib/snaphost/b/' } }), plugin('c')], 2);
    expect(f.map((x) => [x.backend, x.code])).toEqual([
      ['a', 'proxy-plugin-ok'],
      ['a', 'proxy-plugin-root-differs'],
      ['b', 'proxy-plugin-ok'],
      ['c', 'proxy-plugin-ok'],
    ]);
    expect(snapshotterPluginFindings([backend('a')], [plugin('a', { exports: { root: '/elsewhere' } })], 1).map((x) => x.code)).toEqual(['proxy-plugin-ok']);
  });
});
