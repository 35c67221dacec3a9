/**
 * Status of real backends served by a real daemon (memory, overlayfs-native): snapshot
 * counts (counted with list when the backend does not report them), disk use, state; and a
 * backend whose own status() reports layers, is partial, invalid, slow or throws.
 */
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
import type { Snapshotter, SnapshotterStatus } from '../../../../core/contract/snapshotter.js';
import { collectStatus } from '../../../../core/status/collect-status.js';
import { renderStatus } from '../../../../core/status/render-status.js';
import { newClient, unary } from '../grpc/helpers.js';

const log = pino({ level: 'silent' });
let dir: string;
let daemon: Daemon | undefined;
const clients: grpc.Client[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-status-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await daemon?.stop();
  daemon = undefined;
  await rm(dir, { recursive: true, force: true });
});

const config = (backends: unknown[]) => resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), backends }, { baseDir: dir });

/** Snapshotter methods nobody calls here. */
function base(list: () => Iterable<{ name: string }>): Snapshotter {
  const fail = () => {
    throw new Error('unused');
  };
  return { stat: fail, update: fail, usage: fail, mounts: fail, prepare: fail, view: fail, commit: fail, remove: fail, list: list as Snapshotter['list'] };
}

describe('status of real backends', () => {
  it('counts snapshots and measures disk use of memory and overlayfs-native', async () => {
    daemon = await startDaemon(await config([{ use: 'memory', name: 'mem', options: { size: '16m' } }, { use: 'overlayfs-native', name: 'ovl' }]), { log });
    for (const name of ['mem', 'ovl']) {
      const c = newClient(join(dir, 'run', `${name}.sock`));
      clients.push(c);
      await unary((cb) => c.prepare({ key: 'a', parent: '' }, cb));
      await unary((cb) => c.commit({ name: 'base', key: 'a' }, cb));
      await unary((cb) => c.prepare({ key: 'b', parent: 'base' }, cb));
      await unary((cb) => c.view({ key: 'v', parent: 'base' }, cb));
    }
    const report = await daemon.report();
    for (const [i, name] of ['mem', 'ovl'].entries()) {
      const r = report[i]!;
      expect(r).toMatchObject({ name, state: 'serving', socket: join(dir, 'run', `${name}.sock`), root: join(dir, 'lib', name), snapshots: 3 });
      // memory reports its tmpfs's used pages (empty directories take none); overlayfs-native is measured.
      if (name === 'mem') expect(r.diskBytes).toBeGreaterThanOrEqual(0);
      else expect(r.diskBytes).toBeGreaterThan(0);
      expect(r.problems).toBeUndefined();
    }
    // overlayfs-native keeps everything under its root on one file system: measured, non-trivial (LMDB).
    expect(report[1]!.diskBytes).toBeGreaterThan(4096);
    const text = renderStatus({ pid: 1, startedAt: '2024-01-01T00:00:00.000Z', adminSocket: '/x', backends: report });
    expect(text).toMatch(/^mem {2}serving {2}use=memory$/m);
    expect(text).toMatch(/^ {2}snapshots {2}3/m);
  });

  it('reports a failed optional backend with its error and no numbers', async () => {
    const broken = defineBackend({ name: 'broken', apiVersion: 1, options: z.object({}), create: () => Promise.reject(new Error('no device')) });
    daemon = await startDaemon(await config([{ use: 'memory', name: 'mem', options: { size: '16m' } }, { use: broken, optional: true }]), { log });
    const [, r] = await daemon.report();
    expect(r).toEqual(expect.objectContaining({ name: 'broken', state: 'failed', error: 'backends[1] "broken": create() failed: no device' }));
    expect(r!.snapshots).toBeUndefined();
  });
});

describe('collectStatus', () => {
  const root = () => dir;

  it("keeps the backend's own numbers and layers, and fills only what it left out", async () => {
    const layer = { snapshot: 's1', digest: 'sha256:aa', state: 'available' as const, fetchedBytes: 50, totalBytes: 200, prefetch: 'running' };
    const sn = { ...base(() => [{ name: 'x' }, { name: 'y' }]), status: (): SnapshotterStatus => ({ diskBytes: 1234, layers: [layer] }) };
    const s = await collectStatus({ instance: sn, root: root(), log });
    expect(s).toEqual({ snapshots: 2, snapshotsSource: 'list', diskBytes: 1234, diskSource: 'backend', layers: [layer], problems: [] });
    const text = renderStatus({ pid: 1, startedAt: 't', adminSocket: '/x', backends: [{ name: 'l', use: 'l', state: 'serving', socket: '/s', root: '/r', optional: false, ...s, problems: undefined }] });
    expect(text).toContain('available     25.0% fetched (50 B of 200 B)  sha256:aa  prefetch=running');
  });

  it('an invalid field of status() is named and replaced; a throwing status() falls back entirely', async () => {
    const bad = { ...base(() => []), status: () => ({ snapshots: -1, diskBytes: 10, layers: [{ snapshot: 's' }] }) as unknown as SnapshotterStatus };
    const s = await collectStatus({ instance: bad, root: root(), log });
    expect(s).toMatchObject({ snapshots: 0, snapshotsSource: 'list', diskBytes: 10, diskSource: 'backend' });
    expect(s.layers).toBeUndefined();
    expect(s.problems).toEqual([expect.stringMatching(/^status\(\) returned an invalid snapshots: /), expect.stringMatching(/^status\(\) returned an invalid layers: 0\.digest: Invalid input: expected string, received undefined/)]);
    const throws = { ...base(() => [{ name: 'x' }]), status: () => Promise.reject(new Error('boom')) };
    const t = await collectStatus({ instance: throws, root: root(), log });
    expect(t).toMatchObject({ snapshots: 1, diskSource: 'measured', problems: ['status() failed: boom'] });
  });

  it('a status() or list that does not finish in time is left out and named, without waiting for it', async () => {
    const never = new Promise<never>(() => undefined);
    const slow = {
      ...base(() => []),
      list: async function* () {
        await never;
      },
      status: () => never,
    } as unknown as Snapshotter;
    const started = Date.now();
    const s = await collectStatus({ instance: slow, root: root(), log, timeoutMs: 150 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(s.snapshots).toBeUndefined();
    expect(s.problems[0]).toMatch(/^status\(\) failed: /);
    expect(s.problems).toContain('counting snapshots with list did not finish within 150 ms');
  });
});
