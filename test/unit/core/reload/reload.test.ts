/**
 * Hot reload with real backends and a real grpc-js client: two `memory` instances serve,
 * a client streams Prepare/Stat/Remove and List against the one that stays while a reload
 * adds one and removes one, then an invalid config is rejected and changes nothing, then a
 * changed entry restarts only its own instance. Runs as root (memory mounts a tmpfs).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineBackend } from '../../../../core/contract/define-backend.js';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { startDaemon, type Daemon } from '../../../../core/daemon.js';
import type { SnapshotsClient } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/Snapshots.js';
import { grpcError, listAll, newClient, unary } from '../grpc/helpers.js';

// Silent, and to /dev/null: a backend whose entry sets its own level (the log-level test) would otherwise print.
const log = pino({ level: 'silent' }, pino.destination('/dev/null'));

let dir: string;
let daemon: Daemon | undefined;
const clients: grpc.Client[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-reload-'));
});
const streams: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  openGate();
  await Promise.all(streams.splice(0).map((s) => s.stop()));
  for (const c of clients.splice(0)) c.close();
  await daemon?.stop();
  daemon = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A backend whose `stat` waits until the test opens the gate: a call in flight across a reload. */
let openGate: () => void = () => undefined;
const gated = defineBackend({
  name: 'gated',
  apiVersion: 1,
  options: z.object({}).strict(),
  create: () => {
    const gate = new Promise<void>((res) => (openGate = res));
    const fail = () => {
      throw new Error('not used');
    };
    return {
      stat: async (key: string) => {
        await gate;
        return { name: key, parent: '', kind: 'active' as const, labels: {}, created: 1n, updated: 1n };
      },
      update: fail,
      usage: fail,
      mounts: fail,
      prepare: fail,
      view: fail,
      commit: fail,
      remove: fail,
      list: () => [],
    };
  },
});

function config(backends: unknown[], extra: Record<string, unknown> = {}) {
  return resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), createTimeoutMs: 5000, shutdownTimeoutMs: 2000, ...extra, backends }, { baseDir: dir });
}
const sock = (name: string) => join(dir, 'run', `${name}.sock`);

function client(name: string): SnapshotsClient {
  const c = newClient(sock(name));
  clients.push(c);
  return c;
}

/** Prepare/Stat/Remove and List in a loop until stopped; counts calls and failures. */
function streamCalls(c: SnapshotsClient) {
  let running = true;
  const failures: unknown[] = [];
  let calls = 0;
  const unaryLoop = (async () => {
    for (let i = 0; running; i++) {
      const key = `ns/${i}/loop`;
      try {
        await unary((cb) => c.prepare({ key, parent: '' }, cb));
        await unary((cb) => c.stat({ key }, cb));
        await unary((cb) => c.remove({ key }, cb));
        calls += 3;
      } catch (err) {
        failures.push(err);
        return; // one failure fails the test; do not spin on it
      }
    }
  })();
  const listLoop = (async () => {
    while (running) {
      try {
        await listAll(c);
        calls++;
      } catch (err) {
        failures.push(err);
        return;
      }
    }
  })();
  const handle = {
    failures,
    get calls() {
      return calls;
    },
    async stop() {
      running = false;
      await Promise.all([unaryLoop, listLoop]);
    },
  };
  streams.push(handle);
  return handle;
}

describe('Daemon.reload', () => {
  it('adds and removes backends while the unchanged one keeps answering every call; an invalid config changes nothing', async () => {
    const before = [
      { use: 'memory', name: 'keep', options: { size: '16m' } },
      { use: gated, name: 'gate' },
      { use: 'memory', name: 'gone', options: { size: '16m' } },
    ];
    daemon = await startDaemon(await config(before), { log });
    const keep = client('keep');
    await unary((cb) => keep.prepare({ key: 'survivor', parent: '' }, cb));
    // A call in flight on an unchanged backend across the reload.
    const inFlight = unary<{ info: { name: string } }>((cb) => client('gate').stat({ key: 'held' }, cb));
    inFlight.catch(() => undefined); // awaited below; a failure there fails the test
    const stream = streamCalls(keep);
    await new Promise((r) => setTimeout(r, 200));

    const after = [before[0], before[1], { use: 'memory', name: 'added', options: { size: '16m' } }];
    const result = await daemon.reload(() => config(after));
    expect(result).toMatchObject({ ok: true, added: ['added'], removed: ['gone'], restarted: [], unchanged: ['keep', 'gate'], failed: [] });
    expect(existsSync(sock('gone'))).toBe(false);
    expect(daemon.status.map((s) => [s.name, s.state])).toEqual([
      ['keep', 'serving'],
      ['gate', 'serving'],
      ['added', 'serving'],
    ]);
    const added = client('added');
    expect((await unary<{ mounts: unknown[] }>((cb) => added.prepare({ key: 'new', parent: '' }, cb))).mounts).toHaveLength(1);

    // Invalid: one bad option and one new entry; rejected whole, with the config paths.
    const invalid = await daemon.reload(() => config([...after, { use: 'memory', name: 'never', options: { size: 'lots' } }, { use: 'memory', name: 'x', optoins: {} }]));
    expect(invalid.ok).toBe(false);
    expect(invalid.rejected).toMatch(/backends\[3\]\.options\.size: expected a tmpfs size/);
    expect(invalid.rejected).toMatch(/backends\[4\]\.optoins: unknown key/);
    expect(invalid.added).toEqual([]);
    expect(existsSync(sock('never'))).toBe(false);
    expect(daemon.status.map((s) => s.name)).toEqual(['keep', 'gate', 'added']);
    expect(daemon.config.backends.map((b) => b.name)).toEqual(['keep', 'gate', 'added']);

    await new Promise((r) => setTimeout(r, 200));
    openGate();
    expect((await inFlight).info.name).toBe('held');
    await stream.stop();
    expect(stream.failures).toEqual([]);
    expect(stream.calls).toBeGreaterThan(20);
    // Never restarted: its snapshots are still there (memory keeps nothing across a restart).
    expect((await unary<{ info: { name: string } }>((cb) => keep.stat({ key: 'survivor' }, cb))).info.name).toBe('survivor');
  });

  it('restarts a changed entry on the same socket, and applies a log-level change without restarting', async () => {
    const entries = [
      { use: 'memory', name: 'keep', options: { size: '16m' } },
      { use: 'memory', name: 'change', options: { size: '16m' } },
      { use: 'memory', name: 'quiet', options: { size: '16m' } },
    ];
    daemon = await startDaemon(await config(entries), { log });
    for (const name of ['keep', 'change']) await unary((cb) => client(name).prepare({ key: 'k', parent: '' }, cb));

    const result = await daemon.reload(() => config([entries[0], { ...entries[1], options: { size: '32m' } }, { ...entries[2], logLevel: 'debug' }]));
    expect(result).toMatchObject({
      ok: true,
      added: [],
      removed: [],
      restarted: [{ name: 'change', fields: ['options'] }],
      updated: [{ name: 'quiet', fields: ['logLevel'] }],
      unchanged: ['keep'],
    });
    // Restarted (a memory backend starts empty), on the same socket; the others untouched.
    expect((await grpcError(unary((cb) => client('change').stat({ key: 'k' }, cb)))).code).toBe(grpc.status.NOT_FOUND);
    expect((await unary<{ info: { name: string } }>((cb) => client('keep').stat({ key: 'k' }, cb))).info.name).toBe('k');
    expect(daemon.status.every((s) => s.state === 'serving')).toBe(true);
  });

  it('reports a backend that fails to start, keeps the rest, and a later reload starts it again', async () => {
    daemon = await startDaemon(await config([{ use: 'memory', name: 'keep', options: { size: '16m' } }]), { log });
    // The new backend's root is a file: create() cannot make its directory.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'blocker'), '');
    const broken = await daemon.reload(() => config([{ use: 'memory', name: 'keep', options: { size: '16m' } }, { use: 'memory', name: 'late', root: join(dir, 'blocker', 'x'), options: { size: '16m' } }]));
    expect(broken.ok).toBe(false);
    expect(broken.failed.map((f) => f.name)).toEqual(['late']);
    expect(daemon.status.map((s) => [s.name, s.state])).toEqual([
      ['keep', 'serving'],
      ['late', 'failed'],
    ]);
    await rm(join(dir, 'blocker'));
    const fixed = await daemon.reload(() => config([{ use: 'memory', name: 'keep', options: { size: '16m' } }, { use: 'memory', name: 'late', root: join(dir, 'blocker', 'x'), options: { size: '16m' } }]));
    expect(fixed).toMatchObject({ ok: true, restarted: [{ name: 'late', fields: ['failed before'] }], unchanged: ['keep'] });
    expect(daemon.status.map((s) => s.state)).toEqual(['serving', 'serving']);
  });

  it('serializes reloads and refuses one after stop', async () => {
    const one = [{ use: 'memory', name: 'a', options: { size: '16m' } }];
    const two = [...one, { use: 'memory', name: 'b', options: { size: '16m' } }];
    daemon = await startDaemon(await config(one), { log });
    const [first, second] = await Promise.all([daemon.reload(() => config(two)), daemon.reload(() => config(one))]);
    expect(first).toMatchObject({ ok: true, added: ['b'] });
    expect(second).toMatchObject({ ok: true, removed: ['b'] });
    expect(existsSync(sock('b'))).toBe(false);
    await daemon.stop();
    expect((await daemon.reload(() => config(two))).rejected).toBe('the daemon is stopping');
  });
});
