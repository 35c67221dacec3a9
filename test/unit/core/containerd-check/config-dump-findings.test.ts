import { describe, expect, it } from 'vitest';
import { proxyAddressFindings, unpackConfigFindings } from '../../../../core/containerd-check/config-dump-findings.js';

const backend = (name: string) => ({ name, socket: `/run/snaphost/${name}.sock`, root: `/var/lib/snaphost/${name}`, remoteSnapshots: false });

describe('unpackConfigFindings', () => {
  it('ok for a listed backend, no-unpack-config (error) naming the table and the command for the others', () => {
    const f = unpackConfigFindings([backend('memory'), backend('stargz-lazy')], [{ platform: 'linux/amd64', snapshotter: 'overlayfs', differ: 'walking' }, { platform: 'linux/amd64', snapshotter: 'memory', differ: 'walking' }], '/etc/containerd/config.toml');
    expect(f.map((x) => [x.backend, x.severity, x.code])).toEqual([
      ['memory', 'ok', 'unpack-config'],
      ['stargz-lazy', 'error', 'no-unpack-config'],
    ]);
    expect(f[1]!.message).toContain('[[plugins."io.containerd.transfer.v1.local".unpack_config]]');
    expect(f[1]!.message).toContain('snapshotter = "stargz-lazy"');
    expect(f[1]!.message).toContain('`snaphost containerd-config --containerd 2 --fragment`');
    expect(f[1]!.message).toContain('there are entries for overlayfs, memory');
  });

  it('no entries at all: says containerd uses its default', () => {
    const f = unpackConfigFindings([backend('memory')], [], 'x');
    expect(f[0]!.message).toContain('overlayfs only');
  });
});

describe('proxyAddressFindings', () => {
  it("the address is the backend's socket: ok; another address: error; another type: error; absent from the file: nothing", () => {
    const proxies = new Map([
      ['a', { type: 'snapshot', address: '/run/snaphost/a.sock' }],
      ['b', { type: 'snapshot', address: '/run/other/b.sock' }],
      ['c', { type: 'content', address: '/run/snaphost/c.sock' }],
    ]);
    const f = proxyAddressFindings([backend('a'), backend('b'), backend('c'), backend('d')], proxies, 'f');
    expect(f.map((x) => [x.backend, x.severity, x.code])).toEqual([
      ['a', 'ok', 'proxy-plugin-address'],
      ['b', 'error', 'proxy-plugin-address-differs'],
      ['c', 'error', 'proxy-plugin-type'],
    ]);
    expect(f[1]!.message).toContain('address = "/run/other/b.sock", but snaphost serves it at /run/snaphost/b.sock');
  });
});
