/**
 * The `snaphost` command. Argument handling, `check` and `containerd-config` run in-process
 * from the sources; `serve` runs as a real process from the build (`dist/`, built in
 * beforeAll), so signals, exit codes, socket removal and the package self-reference
 * (`import … from 'snaphost'` in plugins.config.ts) are the real thing.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../../../core/cli/run-cli.js';
import { grpcError, listAll, newClient, unary } from '../grpc/helpers.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const configs = join(repo, 'test/fixtures/configs');
const cli = join(repo, 'dist/core/cli/snaphost.js');
const run = promisify(execFile);

async function inProcess(args: string[], cwd = repo) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd });
  return { code, stdout, stderr };
}

describe('snaphost (in-process)', () => {
  it.each([
    [[], /^Usage:/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['serve', '--frob'], /Unknown option '--frob'/],
    [['check', 'extra'], /Unexpected argument 'extra'/],
    [['serve', '--log-level', 'loud'], /--log-level must be one of fatal, error/],
    [['serve', '--backend', 'memory'], /serve without a config file needs --root, --socket/],
    [['serve', '--config', 'x.mjs', '--backend', 'memory', '--root', '/r', '--socket', '/s'], /--config cannot be combined/],
    [['serve', '--backend', 'memory', '--root', '/r', '--socket', '/s', '--option', 'nokey'], /--option "nokey": expected key=value/],
    [['containerd-config', '--option', 'a=1'], /Unknown option '--option'/],
  ])('%j is a usage error (exit 2, usage on stderr)', async (args, message) => {
    const r = await inProcess(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('snaphost serve [--config FILE]');
    expect(r.stdout).toBe('');
  });

  it('--help prints usage on stdout', async () => {
    for (const args of [['--help'], ['check', '--help']]) {
      const r = await inProcess(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage:/);
    }
  });

  it('COMMAND --help prints that command\'s usage (its `usage`), every command\'s is in the whole text', async () => {
    const all = (await inProcess(['--help'])).stdout;
    for (const command of COMMANDS) {
      const r = await inProcess([command.name, '--help']);
      expect(r, command.name).toEqual({ code: 0, stdout: `Usage:\n${command.usage}`, stderr: '' });
      expect(command.usage).toMatch(new RegExp(`^  snaphost ${command.name} `));
      expect(all).toContain(command.usage);
    }
    expect(COMMANDS.map((c) => c.name)).toEqual(['serve', 'check', 'containerd-config', 'check-containerd', 'wait-ready', 'install-unit', 'reload', 'status', 'shutdown', 'test-backend']);
  });

  it('the admin commands and test-backend name themselves in their errors, with their own usage', async () => {
    const r = await inProcess(['status', '--frob']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`snaphost status: Unknown option '--frob'\n\nUsage:\n${COMMANDS.find((c) => c.name === 'status')!.usage}`);
    const both = await inProcess(['reload', '--config', 'a', '--admin-socket', 'b']);
    expect(both).toMatchObject({ code: 2, stderr: expect.stringMatching(/^snaphost reload: --config and --admin-socket cannot be combined\n\nUsage:\n {2}snaphost reload /) });
  });

  it('check on a broken config exits 1 and names every path', async () => {
    const r = await inProcess(['check', '--config', join(configs, 'memory-options-typo.mjs')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `snaphost: invalid config ${join(configs, 'memory-options-typo.mjs')}:\n` +
        '  backends[0].options.sise: unknown key (did you mean "size"?)\n' +
        '  backends[1].options.size: Invalid input: expected string, received number\n',
    );
  });

  it('check shows a failed required backend and exits 1', async () => {
    const r = await inProcess(['check', '--config', join(configs, 'required-broken.mjs')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {2}ok {15}mem {2}use=memory {2}socket=\/run\/snaphost\/mem\.sock/m);
    expect(r.stdout).toMatch(/^ {2}FAILED {11}missing-dependency /m);
    expect(r.stdout).toContain('reason: backend "missing-dependency": cannot import ');
    expect(r.stdout).toMatch(/^environment:$/m);
    expect(r.stdout).toMatch(/^result: \d+ problem\(s\)$/m);
  });

  it('check shows an optional failure without failing (when the machine is fit)', async () => {
    const r = await inProcess(['check', '--config', join(configs, 'optional-broken.mjs')]);
    expect(r.stdout).toMatch(/^ {2}optional-failed {2}broken /m);
    const envFailed = /^ {2}FAILED /m.test(r.stdout.split('environment:')[1]!);
    expect(r.code).toBe(envFailed ? 1 : 0);
  });

  it('containerd-config prints the proxy_plugins TOML', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snaphost-cli-'));
    try {
      await writeFile(
        join(dir, 'plugins.config.json'),
        JSON.stringify({ socketDir: 'sockets', backends: [{ use: 'memory' }, { use: 'memory', name: 'mem.ci', socket: '/run/odd "dir"/m.sock' }] }),
      );
      const r = await inProcess(['containerd-config'], dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        [
          `# Generated by \`snaphost containerd-config\` from ${join(dir, 'plugins.config.json')}.`,
          '# Merge into /etc/containerd/config.toml and restart containerd; then use',
          '# `ctr image pull --snapshotter <name>` or the CRI setting snapshotter = "<name>".',
          '# containerd 1.x: config version 2 (`--containerd 2` for containerd 2.x, version 3).',
          'version = 2',
          '',
          '[proxy_plugins]',
          '  [proxy_plugins."memory"]',
          '    type = "snapshot"',
          `    address = "${join(dir, 'sockets', 'memory.sock')}"`,
          '  [proxy_plugins."mem.ci"]',
          '    type = "snapshot"',
          '    address = "/run/odd \\"dir\\"/m.sock"',
          '',
          '# Kubernetes (CRI): to make one of these the snapshotter of every pod, uncomment the table',
          "# and one `snapshotter` line (if your config has this table already, set them there).",
          '# [plugins."io.containerd.grpc.v1.cri".containerd]',
          '#   snapshotter = "memory"',
          '#   snapshotter = "mem.ci"',
          '',
        ].join('\n'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('containerd-config refuses a config whose required backend does not load', async () => {
    const r = await inProcess(['containerd-config', '--config', join(configs, 'required-broken.mjs')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^snaphost: backend "missing-dependency": cannot import /);
  });
});

describe('snaphost (built, as a process)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    await run(join(repo, 'node_modules/.bin/tsc'), ['-p', join(repo, 'tsconfig.json')], { cwd: repo });
    dir = await mkdtemp(join(tmpdir(), 'snaphost-serve-'));
  }, 120_000);
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  interface Served {
    child: ChildProcess;
    logs: () => Array<Record<string, unknown>>;
    exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  }

  function serve(args: string[]): Served {
    const child = spawn(process.execPath, [cli, 'serve', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const logs = () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { child, logs, exit };
  }

  async function waitFor(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
    const until = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  function client(socket: string) {
    const c = newClient(socket);
    clients.push(c);
    return c;
  }

  it('containerd-config and check load the repo default plugins.config.ts (import from "snaphost")', async () => {
    const { stdout } = await run(process.execPath, [cli, 'containerd-config'], { cwd: repo });
    expect(stdout).toContain('[proxy_plugins."memory"]\n    type = "snapshot"\n    address = "/run/snaphost/memory.sock"\n');
    const broken = await run(process.execPath, [cli, 'check', '--config', join(configs, 'unknown-entry-key.mjs')]).catch((e: unknown) => e);
    expect(broken).toMatchObject({ code: 1, stderr: expect.stringContaining('backends[0].optinos: unknown key (did you mean "options"?)') });
  });

  it('a .ts config outside any snaphost install still imports "snaphost" (the running one)', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'snaphost-etc-'));
    try {
      await writeFile(
        join(outside, 'plugins.config.ts'),
        `import { defineBackend, defineConfig, z, type SnaphostConfig } from 'snaphost';
const mine = defineBackend({ name: 'mine', apiVersion: 1, options: z.object({}).strict(), create: () => { throw new Error('unused'); } });
const config: SnaphostConfig = defineConfig({ socketDir: '/run/snaphost-test', backends: [{ use: 'memory' }, { use: mine }] });
export default config;
`,
      );
      const { stdout } = await run(process.execPath, [cli, 'containerd-config'], { cwd: outside });
      expect(stdout).toContain('[proxy_plugins."mine"]\n    type = "snapshot"\n    address = "/run/snaphost-test/mine.sock"\n');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('serve: a backend bug does not take the host down; SIGTERM drains the call in flight and removes the sockets', async () => {
    const memory = join(repo, 'dist/backends/memory/index.js');
    await writeFile(
      join(dir, 'plugins.config.mjs'),
      `import memory from ${JSON.stringify(memory)};
// Wraps memory: prepare takes 700 ms, so a call is in flight when SIGTERM arrives.
const slow = {
  name: 'slow', apiVersion: 1, options: memory.options,
  async create(options, ctx) {
    const inner = await memory.create(options, ctx);
    return new Proxy(inner, { get(t, p) {
      if (p === 'prepare') return async (...a) => { await new Promise((r) => setTimeout(r, 700)); return t.prepare(...a); };
      const v = t[p]; return typeof v === 'function' ? v.bind(t) : v;
    } });
  },
};
// A bug: throws from its own timer and leaves a rejection unhandled, after starting fine.
const buggy = {
  name: 'buggy', apiVersion: 1, options: memory.options,
  async create(options, ctx) {
    const inner = await memory.create(options, ctx);
    setTimeout(() => { throw new Error('boom from a backend timer'); }, 50);
    setTimeout(() => { Promise.reject(new Error('rejected in a backend timer')); }, 60);
    return inner;
  },
};
export default {
  socketDir: './run', rootDir: './lib', shutdownTimeoutMs: 5000,
  backends: [
    { use: 'memory', name: 'mem', options: { size: '16m' } },
    { use: slow, options: { size: '16m' } },
    { use: buggy, options: { size: '16m' } },
    { use: ${JSON.stringify(join(configs, '../backends/create-throws/index.mjs'))}, optional: true },
  ],
};
`,
    );
    const s = serve([]);
    await waitFor('startup', () => s.logs().some((l) => String(l.msg).startsWith('snaphost serving')));
    const started = s.logs().find((l) => String(l.msg).startsWith('snaphost serving'))!;
    expect(started.msg).toBe('snaphost serving 3 backend(s)');
    expect(started.failed).toEqual(['create-throws']);
    expect(s.logs().some((l) => l.backend === 'create-throws' && l.level === 'error')).toBe(true);

    await waitFor('the bug reports', () => s.logs().filter((l) => l.backend === 'buggy' && l.level === 'error').length >= 2);
    const bugs = s.logs().filter((l) => l.backend === 'buggy' && l.level === 'error');
    expect(bugs.map((l) => l.event)).toEqual(['uncaughtException', 'unhandledRejection']);
    expect(bugs[0]!.msg).toBe('uncaughtException in backend buggy (a bug in that backend); snaphost keeps serving');

    // Still serving, every backend.
    for (const name of ['mem', 'buggy']) {
      const err = await grpcError(unary((cb) => client(join(dir, 'run', `${name}.sock`)).stat({ key: 'nope' }, cb)));
      expect(err.code).toBe(grpc.status.NOT_FOUND);
    }

    const slowClient = client(join(dir, 'run', 'slow.sock'));
    const inFlight = unary<{ mounts: unknown[] }>((cb) => slowClient.prepare({ key: 'k', parent: '' }, cb));
    await new Promise((r) => setTimeout(r, 150));
    s.child.kill('SIGTERM');
    expect((await inFlight).mounts).toHaveLength(1);
    expect(await s.exit).toEqual({ code: 0, signal: null });
    expect(s.logs().some((l) => l.msg === 'snaphost stopped')).toBe(true);
    for (const name of ['mem', 'slow', 'buggy']) expect(existsSync(join(dir, 'run', `${name}.sock`))).toBe(false);
    expect((await readFile('/proc/self/mounts', 'utf8')).includes(dir)).toBe(false);
  }, 30_000);

  it('serve --backend: one backend from flags; SIGINT stops it', async () => {
    const socket = join(dir, 'flags', 'm.sock');
    const s = serve(['--backend', 'memory', '--root', join(dir, 'flags', 'root'), '--socket', socket, '--option', 'size=16m', '--log-level', 'warn']);
    await waitFor('the socket', () => existsSync(socket));
    expect((await listAll(client(socket))).infos).toEqual([]);
    s.child.kill('SIGINT');
    expect(await s.exit).toEqual({ code: 0, signal: null });
    expect(existsSync(socket)).toBe(false);
    expect(s.logs().every((l) => l.level !== 'info')).toBe(true);

    // Options are validated like a config file's.
    const bad = await run(process.execPath, [cli, 'serve', '--backend', 'memory', '--root', join(dir, 'r'), '--socket', join(dir, 's.sock'), '--option', 'sise=1g']).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 1, stderr: 'snaphost: invalid config:\n  backends[0].options.sise: unknown key (did you mean "size"?)\n' });
  }, 30_000);

  it('a second signal exits at once, without waiting for calls in flight', async () => {
    await writeFile(
      join(dir, 'hang.mjs'),
      `const never = () => new Promise(() => {});
const fail = () => { throw new Error('unused'); };
export default {
  socketDir: './hang-run', rootDir: './hang-lib', shutdownTimeoutMs: 60000,
  backends: [{ use: { name: 'hang', apiVersion: 1, options: { safeParse: (v) => ({ success: true, data: v }) },
    create: () => ({ stat: never, update: fail, usage: fail, mounts: fail, prepare: fail, view: fail, commit: fail, remove: fail, list: () => [] }) } }],
};
`,
    );
    const socket = join(dir, 'hang-run', 'hang.sock');
    const s = serve(['--config', 'hang.mjs']);
    await waitFor('the socket', () => existsSync(socket));
    const c = client(socket);
    const stuck = unary((cb) => c.stat({ key: 'k' }, cb)).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    s.child.kill('SIGTERM');
    await waitFor('shutdown to begin', () => s.logs().some((l) => String(l.msg).startsWith('SIGTERM: shutting down')));
    const second = Date.now();
    s.child.kill('SIGTERM');
    expect(await s.exit).toEqual({ code: 143, signal: null });
    expect(Date.now() - second).toBeLessThan(2000);
    expect(s.logs().some((l) => String(l.msg).startsWith('second SIGTERM: exiting now'))).toBe(true);
    expect(await stuck).toBeInstanceOf(Error);
  }, 30_000);
});
