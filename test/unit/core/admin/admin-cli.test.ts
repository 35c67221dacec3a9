/**
 * The admin socket end to end: a real `snaphost serve` process (from the build) with two
 * memory backends; `snaphost reload`, SIGHUP, `snaphost status` and `snaphost shutdown` run
 * against it while a client streams calls to a backend that stays. Runs as root.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../../core/cli/run-cli.js';
import { daemonReportSchema } from '../../../../core/status/status-report.js';
import { listAll, newClient, unary } from '../grpc/helpers.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const cli = join(repo, 'dist/core/cli/snaphost.js');

let dir: string;
let child: ChildProcess | undefined;
const clients: grpc.Client[] = [];

beforeAll(async () => {
  // Build the CLI. A type error elsewhere in the tree does not stop tsc from emitting; the
  // typecheck is its own step, so only a missing output fails here.
  await promisify(execFile)(join(repo, 'node_modules/.bin/tsc'), ['-p', join(repo, 'tsconfig.json')], { cwd: repo }).catch(() => undefined);
  if (!existsSync(cli)) throw new Error(`${cli} was not built`);
  dir = await mkdtemp(join(tmpdir(), 'snaphost-admin-'));
}, 180_000);
afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await rm(dir, { recursive: true, force: true });
});

async function cmd(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd: dir });
  return { code, stdout, stderr };
}

async function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const configFile = () => join(dir, 'plugins.config.json');
const sock = (name: string) => join(dir, 'run', `${name}.sock`);
const adminSock = () => join(dir, 'run', 'snaphost-admin.sock');
const writeConfig = (backends: unknown[]) =>
  writeFile(configFile(), JSON.stringify({ socketDir: './run', rootDir: './lib', shutdownTimeoutMs: 3000, logLevel: 'warn', backends }));
const mem = (name: string, size = '16m') => ({ use: 'memory', name, options: { size } });

describe('snaphost reload / status / shutdown against a running daemon', () => {
  it('reloads on request and on SIGHUP without failing a call of the unchanged backend, reports status, and guards shutdown', async () => {
    await writeConfig([mem('keep'), mem('gone')]);
    child = spawn(process.execPath, [cli, 'serve', '--config', configFile()], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor('the sockets', () => existsSync(sock('keep')) && existsSync(sock('gone')) && existsSync(adminSock()));
    expect(statSync(adminSock()).mode & 0o777).toBe(0o600);

    const keep = newClient(sock('keep'));
    clients.push(keep);
    await unary((cb) => keep.prepare({ key: 'survivor', parent: '' }, cb));
    let running = true;
    let calls = 0;
    const failures: unknown[] = [];
    const loop = (async () => {
      for (let i = 0; running; i++) {
        try {
          await unary((cb) => keep.prepare({ key: `loop-${i}`, parent: '' }, cb));
          await listAll(keep);
          await unary((cb) => keep.remove({ key: `loop-${i}` }, cb));
          calls += 3;
        } catch (err) {
          failures.push(err);
          return;
        }
      }
    })();

    // snaphost reload: one added, one removed.
    await writeConfig([mem('keep'), mem('added')]);
    const reloaded = await cmd(['reload', '--config', configFile()]);
    expect(reloaded.stderr).toBe('');
    expect(reloaded.code).toBe(0);
    expect(reloaded.stdout).toContain(`reloaded ${configFile()}`);
    expect(reloaded.stdout).toMatch(/^ {2}added {6}added$/m);
    expect(reloaded.stdout).toMatch(/^ {2}removed {4}gone$/m);
    expect(reloaded.stdout).toMatch(/^ {2}unchanged {2}keep$/m);
    expect(existsSync(sock('gone'))).toBe(false);
    const added = newClient(sock('added'));
    clients.push(added);
    await unary((cb) => added.prepare({ key: 'x', parent: '' }, cb));

    // An invalid config: rejected whole, exit 1, every problem with its path.
    await writeConfig([mem('keep', 'huge'), mem('added'), mem('other')]);
    const rejected = await cmd(['reload', '--config', configFile()]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('reload rejected; the running config is unchanged:');
    expect(rejected.stderr).toContain('backends[0].options.size: expected a tmpfs size');
    expect(existsSync(sock('other'))).toBe(false);

    // SIGHUP does the same.
    await writeConfig([mem('keep'), mem('added'), mem('hup')]);
    child.kill('SIGHUP');
    await waitFor('the SIGHUP reload', () => existsSync(sock('hup')));

    // status, as JSON and as text.
    const st = await cmd(['status', '--config', configFile(), '--json']);
    expect(st.code).toBe(0);
    const report = daemonReportSchema.parse(JSON.parse(st.stdout));
    expect(report.pid).toBe(child.pid);
    expect(report.backends.map((b) => [b.name, b.state])).toEqual([
      ['keep', 'serving'],
      ['added', 'serving'],
      ['hup', 'serving'],
    ]);
    expect(report.backends[1]).toMatchObject({ snapshots: 1, socket: sock('added'), root: join(dir, 'lib', 'added') });
    const text = await cmd(['status', '--admin-socket', adminSock()]);
    expect(text.stdout).toMatch(/^hup {2}serving {2}use=memory$/m);

    // shutdown refuses while the daemon answers.
    const refused = await cmd(['shutdown', '--config', configFile()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`the daemon \\(pid ${child.pid}\\) is answering on ${adminSock()}`));

    // The client kept calling through both reloads: on a loaded machine it may need a moment more
    // to reach the count (a bound on work done, not on time).
    await waitFor('more than 30 calls of the unchanged backend', () => calls > 30 || failures.length > 0);
    running = false;
    await loop;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(30);
    expect((await unary<{ info: { name: string } }>((cb) => keep.stat({ key: 'survivor' }, cb))).info.name).toBe('survivor');

    child.kill('SIGTERM');
    const code = await new Promise((r) => child!.once('exit', r));
    expect(code).toBe(0);
    expect(existsSync(adminSock())).toBe(false);
    expect(stderr).not.toMatch(/"level":"(error|fatal)"(?!.*reload rejected)/);

    // No daemon: reload and status say so; shutdown runs (memory has nothing to shut down).
    const none = await cmd(['status', '--config', configFile()]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no snaphost daemon is running on ${adminSock()}`);
    const down = await cmd(['shutdown', '--config', configFile(), '--backend', 'hup']);
    expect(down).toEqual({ code: 0, stdout: 'hup: nothing to shut down (its definition has no shutdown)\n', stderr: '' });
  }, 120_000);
});
