/**
 * The composed overlay snapshotter's `beforeWrite` (core/overlay/layer-hook.ts `WriteHook`): it
 * runs inside the store's write transaction of every prepare, view, commit (with the measured
 * usage) and remove, before the change, as the only writer: a check-then-act there (a limit on
 * the number of snapshots, a quota) holds under concurrent calls with no lock of the backend's
 * own, and a throw refuses the change and changes nothing.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '../../../../core/contract/errors.js';
import type { Call } from '../../../../core/contract/snapshotter.js';
import { MemoryMetaStore } from '../../../../core/metastore/memory-metastore.js';
import type { OverlayChange, WriteHook } from '../../../../core/overlay/layer-hook.js';
import { createOverlaySnapshotter, type OverlaySnapshotter } from '../../../../core/overlay/overlay-snapshotter.js';

const log = pino({ level: 'silent' });
const call: Call = { signal: new AbortController().signal, log };
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));
const codeOf = (p: Promise<unknown>) => p.then(() => 'OK', (e: { code?: string }) => e.code);

let dir: string;
let sn: OverlaySnapshotter;

function open(beforeWrite: WriteHook): OverlaySnapshotter {
  sn = createOverlaySnapshotter({ store: new MemoryMetaStore(), dir, log, beforeWrite });
  return sn;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'write-hook-'));
  await mkdir(path.join(dir, 'snapshots'));
});

afterEach(async () => {
  await sn.close();
  await rm(dir, { recursive: true, force: true });
});

describe('beforeWrite', () => {
  it('a snapshot-count limit holds under 20 concurrent prepares: exactly N succeed, no lock', async () => {
    const LIMIT = 5;
    open(async (change, tx) => {
      if (change.op !== 'prepare') return;
      const count = tx.list().length;
      await tick(); // a slow check: still the only writer
      if (count >= LIMIT) throw new FailedPreconditionError(`limit: ${LIMIT} snapshots`);
    });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => codeOf(sn.prepare(`k${i}`, '', {}, call))));
    expect(results.filter((r) => r === 'OK')).toHaveLength(LIMIT);
    expect(results.filter((r) => r === 'FAILED_PRECONDITION')).toHaveLength(20 - LIMIT);
    const listed: string[] = [];
    for await (const i of sn.list({ source: [], match: () => true }, call)) listed.push(i.name);
    expect(listed).toHaveLength(LIMIT);
    expect(await readdir(path.join(dir, 'snapshots'))).toHaveLength(LIMIT); // no directory of a refused one
  });

  it('sees every change before it is made: prepare, view, commit with the measured usage, remove', async () => {
    const seen: { change: OverlayChange; recorded: boolean }[] = [];
    open((change, tx) => {
      const key = change.op === 'commit' ? change.name : change.key;
      const recorded = tx.list().some((i) => i.name === key);
      seen.push({ change, recorded });
    });
    const [m] = await sn.prepare('a', '', { x: '1' }, call);
    await writeFile(path.join(m!.source, 'file'), Buffer.alloc(10_000));
    await sn.commit('A', 'a', { y: '2' }, call);
    await sn.view('v', 'A', {}, call);
    await sn.remove('v', call);
    expect(seen.map((s) => s.change.op)).toEqual(['prepare', 'commit', 'view', 'remove']);
    expect(seen[0]).toEqual({ change: { op: 'prepare', key: 'a', parent: '', labels: { x: '1' } }, recorded: false });
    expect(seen[1]!.change).toMatchObject({ op: 'commit', name: 'A', key: 'a', labels: { y: '2' } });
    expect(seen[1]!.recorded).toBe(false);
    expect((seen[1]!.change as { usage: { size: number } }).usage.size).toBeGreaterThanOrEqual(10_000);
    expect(seen[2]).toEqual({ change: { op: 'view', key: 'v', parent: 'A', labels: {} }, recorded: false });
    expect(seen[3]).toEqual({ change: { op: 'remove', key: 'v' }, recorded: true }); // still there: not yet removed
  });

  it('a throw refuses the change and changes nothing: the commit stays active, the remove keeps the snapshot', async () => {
    let refuse = true;
    open((change) => {
      if (refuse && change.op !== 'prepare') throw new FailedPreconditionError(`refused ${change.op}`);
    });
    await sn.prepare('a', '', {}, call);
    await expect(sn.commit('A', 'a', {}, call)).rejects.toThrow('refused commit');
    expect((await sn.stat('a', call)).kind).toBe('active');
    expect(await codeOf(sn.stat('A', call))).toBe('NOT_FOUND');
    await expect(sn.remove('a', call)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual(['1']);
    refuse = false;
    await sn.remove('a', call);
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual([]);
  });

  it('a quota on the committed total holds under concurrent commits', async () => {
    let max = 0;
    open(async (change, tx) => {
      if (change.op !== 'commit') return;
      const committed = tx.list().filter((i) => i.kind === 'committed').reduce((sum, i) => sum + tx.getInfo(i.name).usage.size, 0);
      await tick();
      if (committed + change.usage.size > max) throw new FailedPreconditionError('quota');
    });
    for (let i = 0; i < 4; i++) {
      const [m] = await sn.prepare(`k${i}`, '', {}, call);
      await writeFile(path.join(m!.source, 'file'), Buffer.alloc(10_000));
    }
    max = 2.5 * (await sn.usage('k0', call)).size; // room for two of the four layers
    const results = await Promise.all([0, 1, 2, 3].map((i) => codeOf(sn.commit(`L${i}`, `k${i}`, {}, call))));
    expect(results.filter((r) => r === 'OK')).toHaveLength(2);
    expect(results.filter((r) => r === 'FAILED_PRECONDITION')).toHaveLength(2);
  });
});
