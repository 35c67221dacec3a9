/** installUnit writes the unit atomically where asked; snaphostCommand finds what systemd runs. */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installUnit, nextSteps, runtimeNodeBin, snaphostCommand } from '../../../../core/systemd/install-unit.js';
import { unitFile } from '../../../../core/systemd/unit-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-install-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('installUnit', () => {
  it('writes <prefix>/snaphost.service (mode 0644, prefix created), replacing an old one, leaving no temp file', async () => {
    const prefix = join(dir, 'etc/systemd/system');
    const o = { prefix, command: ['/usr/bin/snaphost'], config: '/etc/snaphost/plugins.config.ts' };
    await installUnit({ ...o, config: '/etc/old.ts' });
    const unit = await installUnit(o);
    expect(unit.path).toBe(join(prefix, 'snaphost.service'));
    expect(await readFile(unit.path, 'utf8')).toBe(unitFile(o));
    expect(unit.content).toBe(unitFile(o));
    expect((await stat(unit.path)).mode & 0o777).toBe(0o644);
    expect(await readdir(prefix)).toEqual(['snaphost.service']);
  });

  it('an invalid unit is refused before anything is written', async () => {
    await expect(installUnit({ prefix: dir, command: ['snaphost'], config: '/etc/c.ts' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('snaphostCommand', () => {
  it('the built CLI runs with this Node.js', async () => {
    expect(await snaphostCommand(undefined, '/opt/snaphost/dist/core/cli/snaphost.js', dir, '')).toEqual([process.execPath, '/opt/snaphost/dist/core/cli/snaphost.js']);
  });

  it("snaphost's own runtime is named by its stable path when it is the Node.js running now", async () => {
    // <home>/bin/node -> this Node.js: the unit names the stable path (survives runtime upgrades).
    const home = join(dir, 'node');
    await mkdir(join(home, 'bin'), { recursive: true });
    await symlink(process.execPath, join(home, 'bin', 'node'));
    expect(await snaphostCommand(undefined, '/o/dist/core/cli/snaphost.js', dir, home)).toEqual([join(home, 'bin', 'node'), '/o/dist/core/cli/snaphost.js']);
    // A runtime home that is another Node.js (or missing, or relative) is not named.
    const other = join(dir, 'other');
    await mkdir(join(other, 'bin'), { recursive: true });
    await writeFile(join(other, 'bin', 'node'), '');
    expect(await snaphostCommand(undefined, '/o/dist/core/cli/snaphost.js', dir, other)).toEqual([process.execPath, '/o/dist/core/cli/snaphost.js']);
    expect(await snaphostCommand(undefined, '/o/dist/core/cli/snaphost.js', dir, join(dir, 'missing'))).toEqual([process.execPath, '/o/dist/core/cli/snaphost.js']);
    expect(await snaphostCommand(undefined, '/o/dist/core/cli/snaphost.js', dir, 'node')).toEqual([process.execPath, '/o/dist/core/cli/snaphost.js']);
  });

  it("the unit's PATH names the runtime the scripts exported ($SNAPHOST_NODE_HOME/bin), when absolute", () => {
    expect(runtimeNodeBin('/opt/snaphost/node')).toBe('/opt/snaphost/node/bin');
    expect(runtimeNodeBin('')).toBeUndefined();
    expect(runtimeNodeBin('node')).toBeUndefined();
  });

  it('the TypeScript sources need --bin', async () => {
    await expect(snaphostCommand(undefined, '/work/snaphost/core/cli.ts', dir)).rejects.toThrow(/runs from its sources \(\/work\/snaphost\/core\/cli.ts\); build it .* or pass --bin PATH/);
  });

  it('--bin: an executable, relative to the working directory', async () => {
    await writeFile(join(dir, 'snaphost'), '#!/bin/sh\n');
    await chmod(join(dir, 'snaphost'), 0o755);
    expect(await snaphostCommand('snaphost', '/x/cli.ts', dir)).toEqual([join(dir, 'snaphost')]);
    await writeFile(join(dir, 'plain'), '');
    await chmod(join(dir, 'plain'), 0o644);
    // root passes X_OK checks only when some execute bit is set.
    await expect(snaphostCommand(join(dir, 'plain'), '/x/cli.ts', dir)).rejects.toThrow(`--bin ${join(dir, 'plain')} is not an executable file (EACCES)`);
    await expect(snaphostCommand('nope', '/x/cli.ts', dir)).rejects.toThrow(`--bin ${join(dir, 'nope')} is not an executable file (ENOENT)`);
    await expect(snaphostCommand('', '/x/cli.ts', dir)).rejects.toThrow('--bin must not be empty');
  });

  it('nextSteps says what was written and what to run, and warns about a Node.js path', () => {
    const text = nextSteps({ path: '/etc/systemd/system/snaphost.service', content: '' }, ['/usr/bin/node', '/opt/s/cli.js'], '/etc/my config.ts');
    expect(text.split('\n')).toEqual([
      'wrote /etc/systemd/system/snaphost.service',
      "  ExecStart=/usr/bin/node /opt/s/cli.js serve --config '/etc/my config.ts'",
      'next:',
      '  systemctl daemon-reload && systemctl enable --now snaphost',
      "  /usr/bin/node /opt/s/cli.js containerd-config --config '/etc/my config.ts'   # merge into /etc/containerd/config.toml, then: systemctl restart containerd",
      'The unit runs /usr/bin/node by its path: run install-unit again after moving or upgrading Node.js.',
    ]);
    expect(nextSteps({ path: '/u', content: '' }, ['/usr/bin/snaphost'], '/c.ts')).not.toMatch(/Node\.js/);
  });
});
