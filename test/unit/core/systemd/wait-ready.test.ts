/**
 * waitReady against real unix sockets: listeners that appear late, a socket file nobody
 * listens on (a dead daemon's), optional backends, backends that do not load, the deadline.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedBackend, ResolvedConfig } from '../../../../core/config/resolved-config.js';
import { BackendLoadError } from '../../../../core/contract/errors.js';
import { formatWaitReady, notReadyError, waitReady } from '../../../../core/systemd/wait-ready.js';

let dir: string;
const servers: Server[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-ready-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await rm(dir, { recursive: true, force: true });
});

const sock = (name: string) => join(dir, `${name}.sock`);

function listen(name: string, afterMs = 0): Promise<Server> {
  return new Promise((done) =>
    setTimeout(() => {
      const s = createServer((c) => c.destroy());
      servers.push(s);
      s.listen(sock(name), () => done(s));
    }, afterMs),
  );
}

function backend(name: string, extra: Partial<ResolvedBackend> = {}): ResolvedBackend {
  return { index: 0, name, use: name, kind: 'builtin', socket: sock(name), root: join(dir, name), logLevel: 'info', optional: false, ...extra };
}

function config(backends: ResolvedBackend[]): ResolvedConfig {
  return { logLevel: 'info', socketDir: dir, rootDir: dir, socketMode: 0o660, createTimeoutMs: 1000, shutdownTimeoutMs: 1000, backends };
}

describe('waitReady', () => {
  it('waits for sockets that start listening later, and reports when each accepted', async () => {
    await listen('a');
    const late = listen('b', 300);
    const t0 = Date.now();
    const r = await waitReady(config([backend('a'), backend('b')]), { timeoutMs: 5000, intervalMs: 20 });
    await late;
    expect(r.ok).toBe(true);
    expect(r.backends.map((b) => b.state)).toEqual(['ready', 'ready']);
    expect(r.backends[1]!.afterMs).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(formatWaitReady(r, 5000)).toEqual([
      expect.stringMatching(new RegExp(`^  ready +a  ${sock('a')}  after \\d+ ms$`)),
      expect.stringMatching(new RegExp(`^  ready +b  ${sock('b')}  after \\d+ ms$`)),
      'result: ready',
    ]);
  });

  it('a socket file nobody listens on (its daemon was killed) is not ready; the deadline holds', async () => {
    await listen('a');
    // A daemon killed with SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock('dead'))}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => child.stdout!.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await stat(sock('dead'))).isSocket()).toBe(true);
    const t0 = Date.now();
    const r = await waitReady(config([backend('a'), backend('dead')]), { timeoutMs: 400, intervalMs: 20 });
    const took = Date.now() - t0;
    expect(r.ok).toBe(false);
    expect(r.backends[0]!.state).toBe('ready');
    expect(r.backends[1]).toMatchObject({ name: 'dead', state: 'not-ready', reason: 'ECONNREFUSED' });
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(1500);
    expect(notReadyError(r, 400)).toMatchObject({ code: 'UNAVAILABLE', message: `not ready within 400 ms: dead (${sock('dead')}: ECONNREFUSED)` });
  });

  it('a missing socket is not ready (ENOENT)', async () => {
    const r = await waitReady(config([backend('missing')]), { timeoutMs: 100, intervalMs: 20 });
    expect(r.backends[0]).toMatchObject({ state: 'not-ready', reason: 'ENOENT' });
  });

  it('a regular file where the socket should be is not ready (ECONNREFUSED), with its reason', async () => {
    await writeFile(sock('file'), 'not a socket');
    const r = await waitReady(config([backend('file')]), { timeoutMs: 200, intervalMs: 20 });
    expect(r.ok).toBe(false);
    expect(r.backends[0]!.reason).toBe('ECONNREFUSED');
    expect(formatWaitReady(r, 2000)).toEqual([`  NOT READY  file  ${sock('file')}: ECONNREFUSED`, 'result: not ready within 2 s']);
  });

  it('optional backends are not waited for once the required ones accept', async () => {
    await listen('req');
    const t0 = Date.now();
    const r = await waitReady(config([backend('req'), backend('opt', { optional: true })]), { timeoutMs: 5000, intervalMs: 20 });
    expect(r.ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.backends[1]).toMatchObject({ state: 'not-ready', optional: true, reason: 'ENOENT' });
    expect(formatWaitReady(r, 5000)[1]).toBe(`  NOT READY  opt (optional)  ${sock('opt')}: ENOENT`);
  });

  it('an optional backend that comes up while a required one is pending is reported ready', async () => {
    const both = Promise.all([listen('opt', 50), listen('req', 300)]);
    const r = await waitReady(config([backend('req'), backend('opt', { optional: true })]), { timeoutMs: 5000, intervalMs: 20 });
    await both;
    expect(r.ok).toBe(true);
    expect(r.backends.map((b) => b.state)).toEqual(['ready', 'ready']);
  });

  it('only optional backends: waits until one accepts', async () => {
    const later = listen('o2', 200);
    const r = await waitReady(config([backend('o1', { optional: true }), backend('o2', { optional: true })]), { timeoutMs: 5000, intervalMs: 20 });
    await later;
    expect(r.ok).toBe(true);
    expect(r.backends.map((b) => b.state)).toEqual(['not-ready', 'ready']);
  });

  it('only optional backends and none accepts: not ready', async () => {
    const r = await waitReady(config([backend('o1', { optional: true })]), { timeoutMs: 150, intervalMs: 20 });
    expect(r.ok).toBe(false);
    expect(notReadyError(r, 150).message).toBe(`not ready within 150 ms: o1 (${sock('o1')}: ENOENT)`);
  });

  it('a required backend that does not load fails at once; an optional one is reported and skipped', async () => {
    await listen('ok');
    const broken = (name: string, optional: boolean) => backend(name, { optional, error: new BackendLoadError(name, 'cannot import x') });
    const t0 = Date.now();
    const bad = await waitReady(config([backend('ok'), broken('req', false)]), { timeoutMs: 5000 });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(bad.ok).toBe(false);
    expect(bad.backends[0]!.state).toBe('ready');
    expect(notReadyError(bad, 5000).message).toBe('not ready within 5 s: req (backend "req": cannot import x)');
    const fine = await waitReady(config([backend('ok'), broken('opt', true)]), { timeoutMs: 5000 });
    expect(fine.ok).toBe(true);
    expect(formatWaitReady(fine, 5000)[1]).toBe('  not-loaded opt (optional)  backend "opt": cannot import x');
  });

  it('stops when its signal aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop waiting')), 100);
    await expect(waitReady(config([backend('never')]), { timeoutMs: 10_000, intervalMs: 20, signal: ac.signal })).rejects.toThrow('stop waiting');
  });
});
