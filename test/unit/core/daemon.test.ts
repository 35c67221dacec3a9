/**
 * The daemon with real backends: two `memory` instances on temporary sockets, real grpc-js
 * calls, optional and required failures. Runs as root (memory mounts a tmpfs).
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineBackend } from '../../../core/contract/define-backend.js';
import { resolveConfig } from '../../../core/config/resolve-config.js';
import { startDaemon, type Daemon } from '../../../core/daemon.js';
import { BackendContractError, BackendLoadError, BackendTimeoutError } from '../../../core/contract/errors.js';
import { grpcError, listAll, newClient, unary } from './grpc/helpers.js';

const fixtures = fileURLToPath(new URL('../../fixtures/backends/', import.meta.url));
const log = pino({ level: 'silent' });

let dir: string;
let daemon: Daemon | undefined;
const clients: grpc.Client[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-daemon-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await daemon?.stop();
  daemon = undefined;
  await rm(dir, { recursive: true, force: true });
});

function config(backends: unknown[], extra: Record<string, unknown> = {}) {
  return resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), createTimeoutMs: 2000, shutdownTimeoutMs: 1000, ...extra, backends }, { baseDir: fixtures });
}

function client(socket: string) {
  const c = newClient(socket);
  clients.push(c);
  return c;
}

async function mountsUnder(path: string): Promise<string[]> {
  return (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.split(' ')[1]?.startsWith(path));
}

describe('startDaemon', () => {
  it('serves two memory instances on their own sockets, and stop removes sockets and mounts', async () => {
    const cfg = await config([
      { use: 'memory', name: 'mem-a', options: { size: '16m' } },
      { use: 'memory', name: 'mem-b', options: { size: '16m' } },
    ]);
    daemon = await startDaemon(cfg, { log });
    expect(daemon.status.map((s) => [s.name, s.state, s.socket])).toEqual([
      ['mem-a', 'serving', join(dir, 'run', 'mem-a.sock')],
      ['mem-b', 'serving', join(dir, 'run', 'mem-b.sock')],
    ]);
    const a = client(join(dir, 'run', 'mem-a.sock'));
    const b = client(join(dir, 'run', 'mem-b.sock'));
    const prepared = await unary<{ mounts: unknown[] }>((cb) => a.prepare({ key: 'ns/1/extract', parent: '' }, cb));
    expect(prepared.mounts).toHaveLength(1);
    const stat = await unary<{ info: { name: string; kind: string } }>((cb) => a.stat({ key: 'ns/1/extract' }, cb));
    expect(stat.info).toMatchObject({ name: 'ns/1/extract', kind: 'ACTIVE' });
    // The instances are independent.
    expect((await listAll(b)).infos).toEqual([]);
    expect((await grpcError(unary((cb) => b.stat({ key: 'ns/1/extract' }, cb)))).code).toBe(grpc.status.NOT_FOUND);
    expect(await mountsUnder(dir)).not.toEqual([]);

    await daemon.stop();
    await daemon.stop(); // idempotent
    expect(daemon.status.map((s) => s.state)).toEqual(['stopped', 'stopped']);
    expect(existsSync(join(dir, 'run', 'mem-a.sock'))).toBe(false);
    expect(existsSync(join(dir, 'run', 'mem-b.sock'))).toBe(false);
    expect(await mountsUnder(dir)).toEqual([]);
  });

  it("with containerdRoot, keeps each backend's image-fs path as a link to its root, leaving a real directory alone", async () => {
    const containerdRoot = join(dir, 'containerd');
    await mkdir(join(containerdRoot, 'io.containerd.snapshotter.v1.mem-b'), { recursive: true });
    const cfg = await config(
      [
        { use: 'memory', name: 'mem-a', options: { size: '16m' } },
        { use: 'memory', name: 'mem-b', options: { size: '16m' } },
      ],
      { containerdRoot },
    );
    daemon = await startDaemon(cfg, { log });
    expect(await readlink(join(containerdRoot, 'io.containerd.snapshotter.v1.mem-a'))).toBe(join(dir, 'lib', 'mem-a'));
    expect((await lstat(join(containerdRoot, 'io.containerd.snapshotter.v1.mem-b'))).isDirectory()).toBe(true);
    expect(daemon.status.map((s) => s.state)).toEqual(['serving', 'serving']);
  });

  it('an optional backend that fails (load or create) does not stop the others', async () => {
    const cfg = await config([
      { use: 'memory', name: 'mem', options: { size: '16m' } },
      { use: './create-throws/index.mjs', optional: true },
      { use: './broken-import/index.mjs', optional: true },
    ]);
    daemon = await startDaemon(cfg, { log });
    expect(daemon.status.map((s) => [s.name, s.state])).toEqual([
      ['mem', 'serving'],
      ['create-throws', 'failed'],
      ['broken-import', 'failed'],
    ]);
    // A serve-time failure names the entry: backends[i] and the instance name.
    expect(daemon.status[1]!.error).toBe('backends[1] "create-throws": create() failed: cannot open /dev/fixture-missing');
    expect(daemon.status[2]!.error).toMatch(/^backend "broken-import": cannot import /);
    expect(existsSync(join(dir, 'run', 'create-throws.sock'))).toBe(false);
    const mem = client(join(dir, 'run', 'mem.sock'));
    expect((await listAll(mem)).infos).toEqual([]);
  });

  it('a required backend whose create hangs stops startup with BackendTimeoutError, undoing the rest', async () => {
    const cfg = await config(
      [
        { use: 'memory', name: 'mem', options: { size: '16m' } },
        { use: './create-hangs/index.mjs' },
      ],
      { createTimeoutMs: 200 },
    );
    const err = await startDaemon(cfg, { log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendTimeoutError);
    expect((err as Error).message).toBe('backends[1] "create-hangs": create() did not finish within 200 ms');
    expect(existsSync(join(dir, 'run', 'mem.sock'))).toBe(false);
    expect(await mountsUnder(dir)).toEqual([]);
  });

  it('a required backend that fails to load stops startup before anything is created', async () => {
    const cfg = await config([
      { use: 'memory', name: 'mem', options: { size: '16m' } },
      { use: './missing-dependency/index.mjs' },
    ]);
    const err = await startDaemon(cfg, { log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(existsSync(join(dir, 'lib', 'mem'))).toBe(false);
  });

  it('a required backend missing a method is a BackendContractError', async () => {
    const cfg = await config([{ use: './missing-method/index.mjs' }]);
    const err = await startDaemon(cfg, { log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendContractError);
    expect((err as Error).message).toContain('missing required method(s): commit, remove');
    expect((err as Error).message).toMatch(/^backends\[0\] "missing-method": create\(\) returned an instance that is not a snapshotter/);
  });

  it('stop waits for a call in flight, then closes the instance', async () => {
    let release: () => void = () => undefined;
    const closed: string[] = [];
    const slow = defineBackend({
      name: 'slow',
      apiVersion: 1,
      options: z.object({}).strict(),
      create: () => ({
        stat: async (key: string) => {
          await new Promise<void>((r) => (release = r));
          return { name: key, parent: '', kind: 'committed' as const, labels: {}, created: 1n, updated: 1n };
        },
        update: () => Promise.reject(new Error('unused')),
        usage: () => ({ size: 0, inodes: 0 }),
        mounts: () => [],
        prepare: () => [],
        view: () => [],
        commit: () => undefined,
        remove: () => undefined,
        list: () => [],
        close: () => {
          closed.push('closed');
        },
      }),
    });
    daemon = await startDaemon(await config([{ use: slow }], { shutdownTimeoutMs: 5000 }), { log });
    const c = client(join(dir, 'run', 'slow.sock'));
    const inFlight = unary<{ info: { name: string } }>((cb) => c.stat({ key: 'k' }, cb));
    await new Promise((r) => setTimeout(r, 100));
    const stopping = daemon.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toEqual([]);
    release();
    expect((await inFlight).info.name).toBe('k');
    await stopping;
    expect(closed).toEqual(['closed']);
    expect(existsSync(join(dir, 'run', 'slow.sock'))).toBe(false);
  });
});
