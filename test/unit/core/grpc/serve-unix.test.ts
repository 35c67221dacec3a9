import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SocketInUseError } from '../../../../core/contract/errors.js';
import { CallTracker } from '../../../../core/grpc/call-tracker.js';
import { type UnixServer, serveUnix } from '../../../../core/grpc/serve-unix.js';
import { fromSnapshotter } from '../../../../core/grpc/snapshots-service.js';
import { nowNs } from '../../../../core/contract/time.js';
import { fakeSnapshotter, grpcError, newClient, silentLog, tempDir, unary } from './helpers.js';

let dir: string;
const open: UnixServer[] = [];
const clients: grpc.Client[] = [];

beforeEach(async () => {
  dir = await tempDir('snaphost-serve-');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of open.splice(0)) await s.close(100);
  await rm(dir, { recursive: true, force: true });
});

function implementation(stat: (key: string) => Promise<void> = async () => {}) {
  const sn = fakeSnapshotter({
    stat: async (key) => {
      await stat(key);
      const t = nowNs();
      return { name: key, parent: '', kind: 'committed', labels: {}, created: t, updated: t };
    },
  });
  return fromSnapshotter(sn, { backend: 'fake', log: silentLog, calls: new CallTracker() });
}

async function start(socket: string, impl = implementation()): Promise<UnixServer> {
  const s = await serveUnix({ socket, mode: 0o660, implementation: impl, log: silentLog });
  open.push(s);
  return s;
}

function client(socket: string) {
  const c = newClient(socket);
  clients.push(c);
  return c;
}

const statCall = (socket: string, key = 'k') => unary((cb) => client(socket).stat({ key }, cb));

/** Leave a socket file nobody listens on: a child binds it and dies by SIGKILL. */
async function staleSocket(path: string): Promise<void> {
  const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  await once(child, 'exit');
  expect((await lstat(path)).isSocket()).toBe(true);
}

describe('serveUnix', () => {
  it('creates the parent directory, sets mode 0660 and serves', async () => {
    const socket = join(dir, 'a', 'b', 'x.sock');
    const s = await start(socket);
    expect(s.socket).toBe(socket);
    const st = await stat(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect(await statCall(socket)).toMatchObject({ info: { name: 'k' } });
  });

  it('replaces a stale socket', async () => {
    const socket = join(dir, 'stale.sock');
    await staleSocket(socket);
    await start(socket);
    expect(await statCall(socket)).toMatchObject({ info: { name: 'k' } });
  });

  it('refuses a socket a live process listens on with SocketInUseError', async () => {
    const socket = join(dir, 'live.sock');
    const other = createServer();
    other.listen(socket);
    await once(other, 'listening');
    try {
      const err = await start(socket).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SocketInUseError);
      expect((err as SocketInUseError).code).toBe('SOCKET_IN_USE');
      expect((err as Error).message).toContain(socket);
      expect((await lstat(socket)).isSocket()).toBe(true);
    } finally {
      other.close();
    }
  });

  it('refuses a path that is not a socket, naming it', async () => {
    const file = join(dir, 'file.sock');
    await writeFile(file, 'data');
    await expect(start(file)).rejects.toThrow(`${file} exists and is not a socket`);
    const sub = join(dir, 'dir.sock');
    await mkdir(sub);
    await expect(start(sub)).rejects.toThrow(`${sub} exists and is not a socket`);
  });

  it('refuses a path longer than a unix socket allows', async () => {
    await expect(start(join(dir, 'x'.repeat(120)))).rejects.toThrow(/unix sockets allow at most 107/);
  });

  it('removes the socket on close', async () => {
    const socket = join(dir, 'rm.sock');
    const s = await start(socket);
    await s.close(100);
    await expect(lstat(socket)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('close lets an in-flight call finish within the grace period', async () => {
    const socket = join(dir, 'drain.sock');
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const s = await start(socket, implementation(async () => {
      started();
      await new Promise((r) => setTimeout(r, 300));
    }));
    const call = statCall(socket, 'slow');
    await running;
    const t0 = Date.now();
    await s.close(5000);
    expect(await call).toMatchObject({ info: { name: 'slow' } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('close cuts off a call that outlives the grace period', async () => {
    const socket = join(dir, 'force.sock');
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const s = await start(socket, implementation(async () => {
      started();
      await new Promise(() => {});
    }));
    const call = grpcError(statCall(socket, 'hang'));
    await running;
    const t0 = Date.now();
    await s.close(200);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(2000);
    expect([grpc.status.CANCELLED, grpc.status.UNAVAILABLE, grpc.status.INTERNAL]).toContain((await call).code);
    await expect(lstat(socket)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
