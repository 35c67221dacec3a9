/**
 * The systemd unit: contrib/systemd/snaphost.service is exactly what the generator writes for a
 * package install; paths are substituted and quoted as systemd parses them; the directives that
 * make it safe are there; and `systemd-analyze verify` accepts it without a word (when the
 * systemd package provides systemd-analyze).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../core/contract/errors.js';
import { systemdArg, unitFile } from '../../../../core/systemd/unit-file.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const run = promisify(execFile);

function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

describe('unitFile', () => {
  it('contrib/systemd/snaphost.service is the unit for /usr/bin/snaphost and /etc/snaphost/plugins.config.ts', async () => {
    const contrib = await readFile(join(repo, 'contrib/systemd/snaphost.service'), 'utf8');
    expect(contrib).toBe(unitFile({ command: ['/usr/bin/snaphost'], config: '/etc/snaphost/plugins.config.ts' }));
  });

  it("puts snaphost's own Node.js first on the unit's PATH (a #!/usr/bin/env node snaphost never runs on the system's)", () => {
    const path = (nodeBin?: string) => directives(unitFile({ command: ['/usr/bin/snaphost'], config: '/etc/c.ts', nodeBin })).get('Service.Environment');
    expect(path()).toEqual(['PATH=/opt/snaphost/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(path('/srv/rt/node/bin')).toEqual(['PATH=/srv/rt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(() => path('node/bin')).toThrow('"node/bin" is not an absolute path');
    expect(() => path('/a:/b')).toThrow('"/a:/b" cannot be a PATH entry of the unit');
    expect(() => path('/a b')).toThrow('cannot be a PATH entry');
  });

  it('has the directives that order, gate, restart and stop it safely', () => {
    const d = directives(unitFile({ command: ['/usr/bin/node', '/opt/snaphost/dist/core/cli/snaphost.js'], config: '/etc/snaphost/plugins.config.ts', readyTimeoutS: 45 }));
    expect(d.get('Unit.Before')).toEqual(['containerd.service']);
    expect(d.get('Unit.After')).toEqual(['local-fs.target network-online.target']);
    expect(d.get('Unit.Wants')).toEqual(['network-online.target']);
    expect(d.get('Service.Type')).toEqual(['exec']);
    expect(d.get('Service.ExecStart')).toEqual(['/usr/bin/node /opt/snaphost/dist/core/cli/snaphost.js serve --config /etc/snaphost/plugins.config.ts']);
    expect(d.get('Service.ExecStartPost')).toEqual(['/usr/bin/node /opt/snaphost/dist/core/cli/snaphost.js wait-ready --config /etc/snaphost/plugins.config.ts --timeout 45']);
    expect(d.get('Service.TimeoutStartSec')).toEqual(['75']);
    expect(d.get('Service.Restart')).toEqual(['on-failure']);
    expect(d.get('Service.KillMode')).toEqual(['process']);
    expect(d.get('Service.LimitNOFILE')).toEqual(['1048576']);
    // systemctl reload: the daemon re-reads the config through its admin socket.
    expect(d.get('Service.ExecReload')).toEqual(['/usr/bin/node /opt/snaphost/dist/core/cli/snaphost.js reload --config /etc/snaphost/plugins.config.ts']);
    expect(d.get('Install.WantedBy')).toEqual(['multi-user.target']);
  });

  it('quotes and escapes paths as systemd parses them', () => {
    const unit = unitFile({ command: ['/opt/my snaphost/bin/snaphost'], config: '/etc/snap%host/$HOME/"x".ts' });
    expect(unit).toContain('ExecStart="/opt/my snaphost/bin/snaphost" serve --config "/etc/snap%%host/$$HOME/\\"x\\".ts"\n');
    expect(systemdArg('/a/b-c_d.e:f')).toBe('/a/b-c_d.e:f');
    expect(systemdArg('a\\b')).toBe('"a\\\\b"');
  });

  it.each([
    [{ command: [], config: '/etc/c.ts' }, /command is empty/],
    [{ command: ['snaphost'], config: '/etc/c.ts' }, /"snaphost" is not an absolute path/],
    [{ command: ['/usr/bin/snaphost'], config: 'c.ts' }, /"c.ts" is not an absolute path/],
    [{ command: ['/usr/bin/snaphost'], config: '/etc/a\nb.ts' }, /cannot be written into a systemd unit/],
    [{ command: ['/usr/bin/snaphost'], config: '/etc/c.ts', readyTimeoutS: 0 }, /whole number of seconds >= 1, got 0/],
    [{ command: ['/usr/bin/snaphost'], config: '/etc/c.ts', readyTimeoutS: 1.5 }, /whole number of seconds >= 1, got 1.5/],
  ])('refuses %j', (opts, message) => {
    expect(() => unitFile(opts)).toThrow(InvalidArgumentError);
    expect(() => unitFile(opts)).toThrow(message);
  });
});

const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
if (!analyze) console.warn('skipping `systemd-analyze verify`: systemd-analyze is not installed (Debian: apt-get install systemd)');

describe.skipIf(!analyze)('systemd-analyze verify', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snaphost-unit-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts the generated unit with no warning (real executables, a path with a space)', async () => {
    const bin = join(dir, 'my bin', 'snaphost');
    await run('mkdir', ['-p', join(dir, 'my bin')]);
    await writeFile(bin, '#!/bin/sh\nexit 0\n');
    await chmod(bin, 0o755);
    for (const [name, command] of [
      ['a', [process.execPath, join(repo, 'core/cli/snaphost.ts')]],
      ['b', [bin]],
    ] as const) {
      const file = join(dir, `snaphost-${name}.service`);
      await writeFile(file, unitFile({ command, config: join(dir, 'plugins.config.ts') }));
      const r = await run(analyze!, ['verify', file]);
      expect(`${r.stdout}${r.stderr}`).toBe('');
    }
  });

  it('is a real check: it reports a broken directive', async () => {
    const file = join(dir, 'snaphost-broken.service');
    await writeFile(file, unitFile({ command: [process.execPath], config: '/etc/c.ts' }).replace('KillMode=process', 'KillMode=bogus'));
    const r = await run(analyze!, ['verify', file]).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${r.stdout}${r.stderr}`).toMatch(/kill mode/i);
  });
});
