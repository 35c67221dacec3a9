/**
 * `snaphost check` creates each backend's instance in a temporary root (never the configured
 * one), checks it has the contract's methods, closes and removes it, and names `backends[i]`
 * in every failure; `--no-create` skips that and says so; a schema that lets unknown keys
 * through is a warning.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../../../core/cli/run-cli.js';

const fixtures = fileURLToPath(new URL('../../../../fixtures/backends/', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-check-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(backends: object[], ...args: string[]) {
  await writeFile(join(dir, 'plugins.config.json'), JSON.stringify({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), backends }));
  let stdout = '';
  let stderr = '';
  const code = await runCli(['check', ...args], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd: dir });
  const envFailed = /^ {2}FAILED /m.test(stdout.split('environment:')[1] ?? '');
  return { code, stdout, stderr, envFailed };
}

const fixture = (name: string) => join(fixtures, name, 'index.mjs');

describe('snaphost check: creating each instance', () => {
  it('a backend whose instance misses methods is not ok, named backends[i], and its root is not the configured one', async () => {
    const r = await check([{ use: fixture('options-not-strict'), name: 'fine', options: { record: join(dir, 'roots') } }, { use: fixture('missing-method') }]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('backends: each module loaded, its options validated, an instance created in a temporary root, closed and removed');
    expect(r.stdout).toMatch(/^ {2}FAILED {11}missing-method {2}use=/m);
    expect(r.stdout).toContain('reason: backends[1] "missing-method": create() returned an instance that is not a snapshotter: missing required method(s): commit, remove');
    expect(r.stdout).toMatch(/^ {2}ok {15}fine {2}use=/m);
    expect(r.stdout).toMatch(/^result: \d+ problem\(s\)$/m);
    // Created under the system's temp directory, then removed; the configured root is not touched.
    const [root] = (await readFile(join(dir, 'roots'), 'utf8')).trim().split('\n');
    expect(root).toMatch(/\/snaphost-check-[^/]+$/);
    expect(root!.startsWith(join(dir, 'lib'))).toBe(false);
    expect(existsSync(root!)).toBe(false);
    expect(existsSync(join(dir, 'lib'))).toBe(false);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });

  it('a create() that throws is not ok (optional: optional-failed), with the error', async () => {
    const r = await check([{ use: fixture('create-throws') }, { use: fixture('create-throws'), name: 'opt', optional: true }]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {2}FAILED {11}create-throws {2}use=/m);
    expect(r.stdout).toContain('reason: backends[0] "create-throws": create() failed: cannot open /dev/fixture-missing');
    expect(r.stdout).toMatch(/^ {2}optional-failed {2}opt {2}use=/m);
    expect(r.stdout).toContain('reason: backends[1] "opt": create() failed: cannot open /dev/fixture-missing');
  });

  it('--no-create loads and validates only, and says so', async () => {
    const r = await check([{ use: fixture('missing-method') }, { use: fixture('create-throws') }], '--no-create');
    expect(r.stdout).toContain('backends: each module loaded and its options validated; no instance created (--no-create)');
    expect(r.stdout).toMatch(/^ {2}ok {15}missing-method {2}use=/m);
    expect(r.stdout).toMatch(/^ {2}ok {15}create-throws {2}use=/m);
    expect(r.stdout).not.toContain('reason:');
    expect(r.code).toBe(r.envFailed ? 1 : 0);
  });

  it('an options schema that is not strict is a warning naming the backend, not a failure', async () => {
    const r = await check([{ use: fixture('options-not-strict'), name: 'loose' }, { use: 'memory', name: 'mem', options: { size: '16m' } }]);
    expect(r.stdout).toMatch(/^ {2}ok {15}loose {2}use=/m);
    expect(r.stdout).toContain(
      'warning          backends[0] "loose": its options schema lets unknown keys through at options (a zod object that is not .strict()), so a misspelled option passes silently; make it z.object({...}).strict()',
    );
    // The built-ins' schemas are strict, and they create (as root: memory mounts a tmpfs).
    expect(r.stdout).toMatch(/^ {2}ok {15}mem {2}use=memory/m);
    expect(r.stdout).not.toContain('"mem": its options schema');
    expect(r.code).toBe(r.envFailed ? 1 : 0);
  });
});

describe('snaphost check: what a backend finds in the files its options name', () => {
  it('names a broken pull secret (stargz-lazy) as a warning, never its content, and passes the good one', async () => {
    const secret = 'check-secret-0x5eed';
    await writeFile(join(dir, 'good.json'), JSON.stringify({ auths: { 'r.example': { auth: Buffer.from(`u:${secret}`).toString('base64') } } }));
    await writeFile(join(dir, 'broken.json'), `{"auths": {"r.example": {"password": ${secret}`);
    const pullSecrets = [join(dir, 'good.json'), join(dir, 'broken.json'), join(dir, 'missing')];
    const r = await check([{ use: 'stargz-lazy', name: 'lazy', options: { registry: { pullSecrets } } }], '--no-create');
    expect(r.stdout).toContain(`warning          backends[0] "lazy": pull secret ${join(dir, 'broken.json')} is not JSON`);
    expect(r.stdout).toContain(`warning          backends[0] "lazy": pull secret ${join(dir, 'missing')}: does not exist`);
    expect(r.stdout).not.toContain('good.json');
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(r.code).toBe(r.envFailed ? 1 : 0);
  });

  it('names a broken registry hosts file (stargz-lazy hostsDirs) as a warning, with the file and key', async () => {
    const hostsDir = join(dir, 'certs.d');
    await mkdir(join(hostsDir, 'broken.example'), { recursive: true });
    await writeFile(join(hostsDir, 'broken.example', 'hosts.toml'), 'server = 42\n');
    const r = await check([{ use: 'stargz-lazy', name: 'lazy', options: { registry: { hostsDirs: [hostsDir] } } }], '--no-create');
    expect(r.stdout).toMatch(/warning +backends\[0\] "lazy": registry hosts directory: .*broken\.example\/hosts\.toml.*server/);
    expect(r.code).toBe(r.envFailed ? 1 : 0);
  });
});
