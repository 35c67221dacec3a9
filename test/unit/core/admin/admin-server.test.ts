/** The admin socket's protocol: mode, routes, refusals, stale/live sockets, and the client's checks. */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoDaemonError, pingDaemon, requestReload, requestStatus } from '../../../../core/admin/admin-client.js';
import { serveAdmin, type AdminHandlers, type AdminServer } from '../../../../core/admin/admin-server.js';
import { SocketInUseError } from '../../../../core/contract/errors.js';
import { rejectedReload } from '../../../../core/reload/reload-result.js';

const log = pino({ level: 'silent' });
let dir: string;
let server: AdminServer | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-adminsrv-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

const report = { pid: 1, startedAt: 't', adminSocket: '/a', backends: [] };
const handlers: AdminHandlers = {
  status: async () => report,
  reload: async () => rejectedReload('invalid config:\n  backends[0].use: required'),
};

function raw(socket: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('admin socket', () => {
  it('is 0600, answers its routes and refuses anything else', async () => {
    const socket = join(dir, 'snaphost-admin.sock');
    server = await serveAdmin({ socket, handlers, log });
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(await pingDaemon(socket, 1000)).toBe(process.pid);
    expect(await requestStatus(socket, 1000)).toEqual(report);
    const reload = await requestReload(socket, 1000);
    expect(reload).toMatchObject({ ok: false, rejected: 'invalid config:\n  backends[0].use: required' });
    expect(await raw(socket, 'GET', '/v1/nope')).toEqual({ status: 404, body: JSON.stringify({ error: 'no such admin endpoint: /v1/nope' }) });
    expect(await raw(socket, 'GET', '/v1/reload')).toEqual({ status: 405, body: JSON.stringify({ error: '/v1/reload takes POST, not GET' }) });
    expect(await raw(socket, 'POST', '/v1/reload', '{"x":1}')).toEqual({ status: 400, body: JSON.stringify({ error: 'POST /v1/reload takes no request body' }) });
  });

  it('replaces a stale socket, refuses a live one, and removes its own on close', async () => {
    const socket = join(dir, 'snaphost-admin.sock');
    const first = await serveAdmin({ socket, handlers, log });
    await expect(serveAdmin({ socket, handlers, log })).rejects.toBeInstanceOf(SocketInUseError);
    await first.close();
    expect(() => statSync(socket)).toThrow();
    // A stale socket file: its process was killed (SIGKILL leaves the file behind).
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)})`]);
    while (!existsSync(socket)) await new Promise((r) => setTimeout(r, 10));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(existsSync(socket)).toBe(true);
    server = await serveAdmin({ socket, handlers, log });
    expect(await pingDaemon(socket, 1000)).toBe(process.pid);
  });

  it('the client says when no daemon runs, and rejects an answer that is not the protocol', async () => {
    const socket = join(dir, 'snaphost-admin.sock');
    expect(await pingDaemon(socket, 1000)).toBeUndefined();
    await expect(requestStatus(socket, 1000)).rejects.toBeInstanceOf(NoDaemonError);
    server = await serveAdmin({ socket, handlers: { ...handlers, status: async () => ({ pid: 'one' }) as never }, log });
    await expect(requestStatus(socket, 1000)).rejects.toThrow(/GET \/v1\/status: the daemon's answer does not match this snaphost's protocol \(pid: Invalid input: expected number, received string; startedAt: Invalid input: expected string, received undefined/);
  });
});
