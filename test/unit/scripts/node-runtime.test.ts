/**
 * scripts/lib/node-runtime.sh, sourced as the scripts source it: the runtime goes first on PATH,
 * native builds target its headers, an old `node` is refused with what to run, and the
 * pins are well-formed. (Installing it is exercised by scripts/install-deps.sh in CI.)
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const lib = fileURLToPath(new URL('../../../scripts/lib/node-runtime.sh', import.meta.url));

function bash(script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', `source ${JSON.stringify(lib)}\n${script}`], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-node-runtime-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A directory whose `node` answers `--version` with `version`. */
async function fakeNode(name: string, version: string): Promise<string> {
  const bin = join(dir, name, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'node'), `#!/bin/sh\n[ "$1" = --version ] && echo v${version}\n`);
  await chmod(join(bin, 'node'), 0o755);
  return bin;
}

describe('node-runtime.sh', () => {
  it('puts <SNAPHOST_NODE_ROOT>/node/bin first on PATH (once) and builds addons against it', async () => {
    const root = join(dir, 'rt');
    // Sourced a second time (a script that sources it calls another that does): PATH unchanged.
    const r = await bash('source "$LIB"; echo "$PATH"; echo "$npm_config_nodedir"; echo "$SNAPHOST_NODE_HOME"', {
      PATH: '/usr/bin:/bin',
      SNAPHOST_NODE_ROOT: root,
      LIB: lib,
    });
    const [path, nodedir, home] = r.stdout.split('\n');
    const entries = path!.split(':');
    expect(entries[0]).toBe(`${root}/node/bin`);
    expect(entries.filter((e) => e === `${root}/node/bin`)).toHaveLength(1);
    expect(entries).toContain('/usr/bin');
    expect([nodedir, home]).toEqual([`${root}/node`, `${root}/node`]);
  });

  it('snaphost_node_require refuses a node older than 24, naming it and what to run', async () => {
    const old = await fakeNode('old', '18.20.4');
    const r = await bash('snaphost_node_require; echo reached', { PATH: `${old}:/usr/bin:/bin`, SNAPHOST_NODE_ROOT: join(dir, 'rt') });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('reached');
    expect(r.stderr).toContain(`node ${old}/node is 18.20.4; snaphost needs Node.js >= 24`);
    expect(r.stderr).toContain("run 'bash scripts/install-deps.sh'");
  });

  it('snaphost_node_require accepts the installed runtime, which comes before an old system node', async () => {
    const root = join(dir, 'rt');
    await fakeNode('rt/node-24.22.3', '24.22.3');
    await symlink('node-24.22.3', join(root, 'node'));
    const old = await fakeNode('old', '18.20.4');
    const r = await bash('snaphost_node_require; command -v node', { PATH: `${old}:/usr/bin:/bin`, SNAPHOST_NODE_ROOT: root });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(join(root, 'node/bin/node'));
  });

  it('pins an exact version and sha512 integrities', async () => {
    const r = await bash('echo "$SNAPHOST_NODE_VERSION $SNAPHOST_NPM_VERSION"; echo "$SNAPHOST_NODE_INTEGRITY_X64"; echo "$SNAPHOST_NODE_INTEGRITY_ARM64"; echo "$SNAPHOST_NPM_INTEGRITY"', {
      PATH: '/usr/bin:/bin',
    });
    const [versions, ...integrities] = r.stdout.trim().split('\n');
    expect(versions).toMatch(/^24\.\d+\.\d+ \d+\.\d+\.\d+$/);
    expect(integrities).toHaveLength(3);
    for (const i of integrities) expect(i).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
  });
});
