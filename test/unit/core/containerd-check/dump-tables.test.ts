import { describe, expect, it } from 'vitest';
import { dumpTables, proxyPlugins, unpackEntries } from '../../../../core/containerd-check/dump-tables.js';

// Shaped as containerd 2.1.9's `config dump` prints it (go-toml v2: single-quoted strings).
const DUMP_2X = `version = 3
root = '/var/lib/containerd'
disabled_plugins = []

[plugins]
  [plugins.'io.containerd.transfer.v1.local']
    max_concurrent_downloads = 3
    check_platform_supported = false
    config_path = ''

    [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
      platform = 'linux/amd64'
      snapshotter = 'overlayfs'
      differ = 'walking'
      config_type = ''
      layer_types = []

    [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
      platform = 'linux/amd64'
      snapshotter = 'stargz-lazy'
      differ = 'walking'
      config_type = ''
      layer_types = []

[cgroup]
  path = ''

[proxy_plugins]
  [proxy_plugins.memory]
    type = 'snapshot'
    address = '/run/snaphost/memory.sock'
    platform = ''
    capabilities = []

    [proxy_plugins.memory.exports]
      root = '/var/lib/snaphost/memory'

  [proxy_plugins.'stargz-lazy']
    type = 'snapshot'
    address = '/run/snaphost/stargz-lazy.sock'
`;

// Shaped as containerd 1.6's (go-toml v1: double-quoted strings, bare keys where they may be).
const DUMP_1X = `version = 2
root = "/var/lib/containerd"

[proxy_plugins]
  [proxy_plugins."over\\"quoted"]
    type = "snapshot"
    address = "/run/snaphost/q.sock" # a comment
  [proxy_plugins.memory]
    type = "snapshot"
    address = "/run/snaphost/memory.sock"

  [proxy_plugins.stargz-lazy]
    address = "/run/snaphost/stargz-lazy.sock"
    type = "snapshot"
`;

describe('dumpTables', () => {
  it("reads containerd 2.x's unpack entries, in order, and nothing else as one", () => {
    expect(unpackEntries(dumpTables(DUMP_2X))).toEqual([
      { platform: 'linux/amd64', snapshotter: 'overlayfs', differ: 'walking' },
      { platform: 'linux/amd64', snapshotter: 'stargz-lazy', differ: 'walking' },
    ]);
  });

  it('a dump without unpack entries has none (containerd then uses its default list)', () => {
    expect(unpackEntries(dumpTables(DUMP_2X.replace(/\n    \[\[plugins[^]*?layer_types = \[\]\n/g, '\n')))).toEqual([]);
    expect(unpackEntries(dumpTables(DUMP_1X))).toEqual([]);
  });

  it('a table that is not an array element, or another array, is not an unpack entry', () => {
    const text = `[plugins.'io.containerd.transfer.v1.local'.unpack_config]\n  snapshotter = 'x'\n[[plugins.'io.containerd.transfer.v1.other'.unpack_config]]\n  snapshotter = 'y'\n`;
    expect(unpackEntries(dumpTables(text))).toEqual([]);
  });

  it('proxy plugins with either quoting; exports sub-tables are not plugins; escapes and comments', () => {
    expect([...proxyPlugins(dumpTables(DUMP_2X))]).toEqual([
      ['memory', { type: 'snapshot', address: '/run/snaphost/memory.sock' }],
      ['stargz-lazy', { type: 'snapshot', address: '/run/snaphost/stargz-lazy.sock' }],
    ]);
    expect([...proxyPlugins(dumpTables(DUMP_1X))]).toEqual([
      ['over"quoted', { type: 'snapshot', address: '/run/snaphost/q.sock' }],
      ['memory', { type: 'snapshot', address: '/run/snaphost/memory.sock' }],
      ['stargz-lazy', { type: 'snapshot', address: '/run/snaphost/stargz-lazy.sock' }],
    ]);
  });

  it('keeps the table path and the string values only', () => {
    const t = dumpTables(DUMP_2X).find((x) => x.path[1] === 'io.containerd.transfer.v1.local' && x.path.length === 2)!;
    expect(t).toEqual({ path: ['plugins', 'io.containerd.transfer.v1.local'], arrayElement: false, strings: { config_path: '' } });
  });

  it('a malformed header starts no table (its keys are not read into the one before)', () => {
    const tables = dumpTables(`[proxy_plugins.memory]\n  address = '/a'\n[proxy_plugins.'unterminated]\n  address = '/b'\n`);
    expect([...proxyPlugins(tables)]).toEqual([['memory', { type: '', address: '/a' }]]);
  });

  it('basic-string escapes: JSON ones and TOML\'s \\UXXXXXXXX; an escaped backslash before U is not one', () => {
    const tables = dumpTables(`[proxy_plugins.a]\n  address = "/t\\u00e9\\U0001F600\\\\U0001F600"\n`);
    expect(proxyPlugins(tables).get('a')!.address).toBe('/t\u00e9\u{1F600}\\U0001F600');
  });
});
