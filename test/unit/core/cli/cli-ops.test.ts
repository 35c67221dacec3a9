/**
 * The operator commands through `runCli`, in-process: containerd-config's flags, wait-ready
 * against real sockets, install-unit into a temp prefix, check-containerd against a fake
 * containerd (version + introspection, no CRI) and a socket nobody serves.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../../core/cli/run-cli.js';
import { hostPlatform } from '../../../../core/containerd-config/containerd-config.js';
import { unitFile } from '../../../../core/systemd/unit-file.js';
import { serveFakeContainerd } from '../grpc/fake-containerd.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const configs = join(repo, 'test/fixtures/configs');

let dir: string;
const servers: Server[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-cli-ops-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], cwd = dir) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd });
  return { code, stdout, stderr };
}

async function writeConfig(backends: unknown[]): Promise<string> {
  const file = join(dir, 'plugins.config.json');
  await writeFile(file, JSON.stringify({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), backends }));
  return file;
}

describe('containerd-config flags', () => {
  it('--containerd 2 --fragment: proxy plugins with exports; stargz-lazy is lazy', async () => {
    const file = await writeConfig([{ use: 'memory' }, { use: 'stargz-lazy' }]);
    const r = await cli(['containerd-config', '--config', file, '--containerd', '2', '--fragment']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(
      [
        '[proxy_plugins]',
        '  [proxy_plugins."memory"]',
        '    type = "snapshot"',
        `    address = "${join(dir, 'run/memory.sock')}"`,
        '    [proxy_plugins."memory".exports]',
        `      root = "${join(dir, 'lib/memory')}"`,
        '  [proxy_plugins."stargz-lazy"]',
        '    type = "snapshot"',
        `    address = "${join(dir, 'run/stargz-lazy.sock')}"`,
        '    [proxy_plugins."stargz-lazy".exports]',
        `      root = "${join(dir, 'lib/stargz-lazy')}"`,
        '      enable_remote_snapshot_annotations = "true"',
        '',
        '',
      ].join('\n'),
    )).toBe(true);
    for (const sn of ['overlayfs', 'memory', 'stargz-lazy']) {
      expect(r.stdout).toContain(`[[plugins."io.containerd.transfer.v1.local".unpack_config]]\n  platform = "${hostPlatform()}"\n  snapshotter = "${sn}"\n  differ = "walking"\n`);
    }
    const v1 = await cli(['containerd-config', '--config', file, '--containerd', '1']);
    expect(v1.stdout).toMatch(/^version = 2$/m);
    expect(v1.stdout).toMatch(/^# \[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\]$/m);
  });

  it('--cri-snapshotter NAME: the CRI table active for a configured backend', async () => {
    const file = await writeConfig([{ use: 'memory' }, { use: 'stargz-lazy' }]);
    const v2 = await cli(['containerd-config', '--config', file, '--containerd', '2', '--cri-snapshotter', 'stargz-lazy']);
    expect(v2.code).toBe(0);
    expect(v2.stdout).toContain('\n[plugins."io.containerd.cri.v1.images"]\n  snapshotter = "stargz-lazy"\n  disable_snapshot_annotations = false\n');
    const v1 = await cli(['containerd-config', '--config', file, '--cri-snapshotter', 'memory']);
    expect(v1.code).toBe(0);
    expect(v1.stdout).toContain('\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "memory"\n  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n');
  });

  it.each([
    [['containerd-config', '--containerd', '3'], '--containerd must be 1 or 2 (the containerd major version), got "3"'],
    [['containerd-config', '--containerd'], "Option '--containerd <value>' argument missing"],
    [['containerd-config', '--fragment=yes'], "Option '--fragment' does not take an argument"],
    [['containerd-config', '--cri-snapshotter', 'overlayfs'], '--cri-snapshotter must name a configured backend (memory), got "overlayfs"'],
    [['containerd-config', '--cri-snapshotter', 'memory', '--fragment'], '--cri-snapshotter cannot be combined with --fragment (a fragment has no CRI table)'],
    [['wait-ready', '--timeout', 'soon'], '--timeout must be a number of seconds > 0, got "soon"'],
    [['wait-ready', '--timeout', '0'], '--timeout must be a number of seconds > 0, got "0"'],
    [['install-unit', '--timeout', '1.5'], '--timeout must be a whole number of seconds > 0, got "1.5"'],
    [['install-unit', '--prefix', ''], '--prefix must not be empty'],
    [['wait-ready', '--fragment'], "Unknown option '--fragment'"],
    [['install-unit', '--backend', 'memory'], "Unknown option '--backend'"],
    [['check-containerd', '--timeout-ms', '1.5'], '--timeout-ms must be a whole number of ms in 1..300000, got "1.5"'],
    [['check-containerd', '--timeout-ms', '0'], '--timeout-ms must be a whole number of ms in 1..300000, got "0"'],
    [['check-containerd', '--address', ''], '--address must not be empty'],
    [['check-containerd', '--containerd-config', ''], '--containerd-config must not be empty'],
    [['check-containerd', '--fragment'], "Unknown option '--fragment'"],
  ])('%j is a usage error', async (args, message) => {
    await writeConfig([{ use: 'memory' }]);
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`snaphost: ${message}`);
    expect(r.stderr).toContain('snaphost install-unit [--config FILE]');
    expect(r.stdout).toBe('');
  });
});

describe('wait-ready', () => {
  it('exit 0 once every socket accepts', async () => {
    const file = await writeConfig([{ use: 'memory' }, { use: 'memory', name: 'm2' }]);
    await mkdir(join(dir, 'run'));
    for (const n of ['memory', 'm2']) {
      const s = createServer((c) => c.destroy());
      servers.push(s);
      await new Promise<void>((r) => s.listen(join(dir, 'run', `${n}.sock`), r));
    }
    const r = await cli(['wait-ready', '--config', file, '--timeout', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}ready {6}memory {2}\S+memory\.sock {2}after \d+ ms\n {2}ready {6}m2 .*\nresult: ready\n$/);
  });

  it('exit 1 naming the socket that does not accept', async () => {
    const file = await writeConfig([{ use: 'memory' }]);
    const r = await cli(['wait-ready', '--config', file, '--timeout', '0.2']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`  NOT READY  memory  ${join(dir, 'run/memory.sock')}: ENOENT\nresult: not ready within 200 ms\n`);
    expect(r.stderr).toBe(`snaphost: not ready within 200 ms: memory (${join(dir, 'run/memory.sock')}: ENOENT)\n`);
  });
});

describe('install-unit', () => {
  it('writes the unit for the config with --bin, and prints the next steps', async () => {
    const file = await writeConfig([{ use: 'memory' }]);
    const bin = join(dir, 'snaphost');
    await writeFile(bin, '#!/bin/sh\n');
    await chmod(bin, 0o755);
    const r = await cli(['install-unit', '--prefix', 'units', '--bin', bin, '--timeout', '30']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, 'units/snaphost.service'), 'utf8')).toBe(unitFile({ command: [bin], config: file, readyTimeoutS: 30 }));
    expect(r.stdout).toContain(`wrote ${join(dir, 'units/snaphost.service')}\n`);
    expect(r.stdout).toContain('  systemctl daemon-reload && systemctl enable --now snaphost\n');
  });

  it('from the TypeScript sources without --bin: an error, nothing written', async () => {
    await writeConfig([{ use: 'memory' }]);
    const r = await cli(['install-unit', '--prefix', 'units']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^snaphost: this snaphost runs from its sources \(.*core\/cli\/snaphost\.ts\); build it/);
  });

  it('refuses a config whose required backend does not load', async () => {
    const r = await cli(['install-unit', '--config', join(configs, 'required-broken.mjs'), '--prefix', join(dir, 'units'), '--bin', '/bin/true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^snaphost: backend "missing-dependency": cannot import /);
    expect(r.stdout).toBe('');
  });
});

describe('check-containerd', () => {
  it('no containerd at --address: exit 1 with containerd-unreachable (JSON), within the timeout', async () => {
    await writeConfig([{ use: 'memory' }]);
    const started = Date.now();
    const r = await cli(['check-containerd', '--address', 'none.sock', '--json', '--timeout-ms', '3000']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([{ severity: 'error', code: 'containerd-unreachable', message: expect.stringContaining(join(dir, 'none.sock')) }]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('everything ok but CRI off (a warning): exit 0, a block per backend', async () => {
    await writeConfig([{ use: 'memory' }]);
    const address = join(dir, 'containerd.sock');
    const fake = await serveFakeContainerd(address, { version: '1.6.20~ds1', plugins: (_c, cb) => cb(null, { plugins: [{ type: 'io.containerd.snapshotter.v1', id: 'memory' }] }) });
    try {
      await mkdir(join(dir, 'run'));
      const s = createServer((c) => c.destroy());
      servers.push(s);
      await new Promise<void>((r) => s.listen(join(dir, 'run', 'memory.sock'), r));
      const r = await cli(['check-containerd', '--address', address]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`containerd (${address}):\n`);
      expect(r.stdout).toMatch(/^backend memory:\n {2}ok {7}proxy-plugin-ok/m);
      expect(r.stdout).toMatch(/\nresult: 0 error\(s\), 1 warning\(s\)\n$/);
    } finally {
      fake.forceShutdown();
    }
  });
});
