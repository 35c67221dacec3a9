/**
 * The adapter's `observe`: once per RPC, with containerd's method name, the final gRPC status
 * name and the duration; List at the end of its stream; a cancelled call as CANCELLED; an
 * observer that throws does not change the answer.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { StatSnapshotResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/StatSnapshotResponse.js';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../../../../core/contract/errors.js';
import type { Info } from '../../../../core/contract/snapshotter.js';
import { fakeSnapshotter, grpcError, listAll, serve, unary } from './helpers.js';

interface Seen {
  method: string;
  code: string;
  seconds: number;
}

const info = (name: string): Info => ({ name, parent: '', kind: 'committed', labels: {}, created: 1n, updated: 1n });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('adapter observe', () => {
  it('reports every method once with its final status and duration', async () => {
    const seen: Seen[] = [];
    const sn = fakeSnapshotter({
      prepare: async () => {
        await sleep(30);
        return [];
      },
      view: () => {
        throw new AlreadyExistsError('view exists');
      },
      mounts: () => {
        throw new TypeError('bug');
      },
      commit: () => undefined,
      remove: () => {
        throw new NotFoundError('no such snapshot');
      },
      stat: (key) => info(key),
      update: () => {
        throw new InvalidArgumentError('bad update');
      },
      usage: () => ({ size: 1, inodes: 1 }),
      list: () => [info('a'), info('b')],
    });
    const s = await serve(sn, { backend: 'fake', observe: (method, code, seconds) => seen.push({ method, code, seconds }) });
    const c = s.client;
    try {
      await unary((cb) => c.prepare({ key: 'k', parent: '', labels: {} }, cb));
      await grpcError(unary((cb) => c.view({ key: 'k', parent: '', labels: {} }, cb)));
      await grpcError(unary((cb) => c.mounts({ key: 'k' }, cb)));
      await unary((cb) => c.commit({ name: 'n', key: 'k', labels: {} }, cb));
      await grpcError(unary((cb) => c.remove({ key: 'k' }, cb)));
      await unary((cb) => c.stat({ key: 'k' }, cb));
      await grpcError(unary((cb) => c.update({ info: { name: 'k' } }, cb)));
      await unary((cb) => c.usage({ key: 'k' }, cb));
      await grpcError(unary((cb) => c.cleanup({}, cb)));
      await grpcError(unary((cb) => c.stat({ key: '' }, cb)));
      expect((await listAll(c)).infos).toHaveLength(2);
      await sleep(20); // the observer runs right after the answer is handed to grpc-js
    } finally {
      await s.close();
    }
    expect(seen.map(({ method, code }) => `${method} ${code}`)).toEqual([
      'Prepare OK',
      'View ALREADY_EXISTS',
      'Mounts INTERNAL',
      'Commit OK',
      'Remove NOT_FOUND',
      'Stat OK',
      'Update INVALID_ARGUMENT',
      'Usage OK',
      'Cleanup UNIMPLEMENTED',
      'Stat INVALID_ARGUMENT',
      'List OK',
    ]);
    expect(seen[0]!.seconds).toBeGreaterThanOrEqual(0.025);
    expect(seen[0]!.seconds).toBeLessThan(5);
    for (const e of seen) expect(e.seconds).toBeGreaterThanOrEqual(0);
  });

  it('reports a List stream when it ends, and a cancelled one as CANCELLED', async () => {
    const seen: Seen[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sn = fakeSnapshotter({
      async *list() {
        yield info('first');
        await gate;
        yield info('second');
      },
      stat: (_key, call) => new Promise<never>((_resolve, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason))),
    });
    const s = await serve(sn, { backend: 'fake', observe: (method, code, seconds) => seen.push({ method, code, seconds }) });
    try {
      const done = listAll(s.client);
      await sleep(50);
      expect(seen).toEqual([]);
      release();
      expect((await done).infos.map((i) => i.name)).toEqual(['first', 'second']);
      await sleep(20);
      expect(seen.map((e) => `${e.method} ${e.code}`)).toEqual(['List OK']);

      const stat = s.client.stat({ key: 'slow' }, () => {});
      await sleep(50);
      stat.cancel();
      for (let i = 0; i < 50 && seen.length < 2; i++) await sleep(10);
      expect(seen.map((e) => `${e.method} ${e.code}`)).toEqual(['List OK', 'Stat CANCELLED']);
    } finally {
      await s.close();
    }
  });

  it('an observer that throws changes nothing for the client', async () => {
    const sn = fakeSnapshotter({ stat: (key) => info(key), list: () => [info('a')] });
    let calls = 0;
    const s = await serve(sn, {
      backend: 'fake',
      observe: () => {
        calls++;
        throw new Error('observer bug');
      },
    });
    try {
      const res = await unary<StatSnapshotResponse__Output>((cb) => s.client.stat({ key: 'x' }, cb));
      expect(res.info?.name).toBe('x');
      const stream = s.client.list({ filters: [] });
      stream.resume();
      await once(stream, 'end');
      await sleep(20);
      expect(calls).toBe(2);
    } finally {
      await s.close();
    }
  });
});
