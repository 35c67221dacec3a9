/**
 * The one Snapshots client against the real adapter on a temporary socket: every method sends
 * what the backend receives and returns what it answered (through convert.ts), errors come
 * back as the SDK classes the backend threw, List streams across batches and stops early.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  UnavailableError,
} from '../../../../core/contract/errors.js';
import type { Call, Info, Snapshotter } from '../../../../core/contract/snapshotter.js';
import { connectSnapshots, type SnapshotsConnection } from '../../../../core/grpc/snapshots-client.js';
import { LIST_BATCH_SIZE } from '../../../../core/grpc/list-stream.js';
import { fakeSnapshotter, serve, type Served } from './helpers.js';

const info = (name: string, over: Partial<Info> = {}): Info => ({
  name,
  parent: '',
  kind: 'committed',
  labels: {},
  created: 1_700_000_000_123_456_789n,
  updated: 1_700_000_001_000_000_001n,
  ...over,
});
const mount = { type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w'] };

let served: Served | undefined;
let client: SnapshotsConnection | undefined;
afterEach(async () => {
  client?.close();
  await served?.close();
  served = undefined;
  client = undefined;
});

async function connect(sn: Partial<Snapshotter>, options: Parameters<typeof connectSnapshots>[1] = {}): Promise<SnapshotsConnection> {
  served = await serve(fakeSnapshotter(sn));
  client = connectSnapshots(served.socket, options);
  return client;
}

describe('connectSnapshots', () => {
  it('has the contract shape: a connection is a Snapshotter', () => {
    const asContract = (c: SnapshotsConnection): Snapshotter => c;
    expect(asContract).toBeTypeOf('function');
  });

  it('every method sends its arguments and returns the converted reply', async () => {
    const seen: unknown[][] = [];
    const c = await connect({
      stat: (key) => (seen.push(['stat', key]), info(key, { labels: JSON.parse('{"a":"1","__proto__":"x"}') as Info['labels'] })),
      update: (u, paths) => (seen.push(['update', u, paths]), info(u.name, { labels: u.labels })),
      usage: (key) => (seen.push(['usage', key]), { size: 2 ** 40, inodes: 7 }),
      mounts: (key) => (seen.push(['mounts', key]), [mount]),
      prepare: (key, parent, labels) => (seen.push(['prepare', key, parent, { ...labels }]), [mount]),
      view: (key, parent, labels) => (seen.push(['view', key, parent, { ...labels }]), [{ ...mount, target: '/t' }]),
      commit: (name, key, labels) => void seen.push(['commit', name, key, { ...labels }]),
      remove: (key) => void seen.push(['remove', key]),
      cleanup: () => void seen.push(['cleanup']),
    });
    const st = await c.stat('k 1');
    expect(st).toEqual(info('k 1', { labels: expect.objectContaining({ a: '1' }) as Info['labels'] }));
    expect(Object.hasOwn(st.labels, '__proto__')).toBe(true);
    expect(await c.update({ name: 'n', labels: { b: '2' } }, ['labels.b'])).toMatchObject({ name: 'n', labels: { b: '2' } });
    expect(await c.usage('k')).toEqual({ size: 2 ** 40, inodes: 7 });
    expect(await c.mounts('k')).toEqual([mount]);
    expect(await c.prepare('p', 'parent', { l: 'v' })).toEqual([mount]);
    expect(await c.prepare('p2')).toEqual([mount]);
    expect(await c.view('v', 'parent')).toEqual([{ ...mount, target: '/t' }]);
    expect(await c.commit('name', 'key', { c: '3' })).toBeUndefined();
    expect(await c.remove('gone')).toBeUndefined();
    expect(await c.cleanup()).toBeUndefined();
    expect(seen).toEqual([
      ['stat', 'k 1'],
      ['stat', 'n'], // the adapter checks the label limits against the current labels
      ['update', { name: 'n', labels: { b: '2' } }, ['labels.b']],
      ['usage', 'k'],
      ['mounts', 'k'],
      ['prepare', 'p', 'parent', { l: 'v' }],
      ['prepare', 'p2', '', {}],
      ['view', 'v', 'parent', {}],
      ['commit', 'name', 'key', { c: '3' }],
      ['remove', 'gone'],
      ['cleanup'],
    ]);
  });

  it('sends the connection namespace, or the call one', async () => {
    const namespaces: (string | undefined)[] = [];
    const c = await connect({ stat: (key, call: Call) => (namespaces.push(call.namespace), info(key)) }, { namespace: 'k8s.io' });
    await c.stat('a');
    await c.stat('b', { namespace: 'other' });
    expect(namespaces).toEqual(['k8s.io', 'other']);
  });

  it('maps every snapshot error class back from its status, with the message and the grpc error as cause', async () => {
    const classes = [NotFoundError, AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, UnavailableError, NotImplementedError];
    for (const Class of classes) {
      const c = await connect({
        stat: () => {
          throw new Class(`the ${Class.name} message`);
        },
      });
      const err = await c.stat('k').catch((e: unknown) => e as Error);
      expect(err, Class.name).toBeInstanceOf(Class);
      expect(err.message).toBe(`the ${Class.name} message`);
      expect((err.cause as grpc.ServiceError).code).toBeTypeOf('number');
      c.close();
      await served!.close();
      served = undefined;
    }
  });

  it('leaves INTERNAL as the grpc-js error, and a backend without cleanup answers NotImplementedError', async () => {
    const c = await connect({
      stat: () => {
        throw new TypeError('boom');
      },
    });
    const err = (await c.stat('k').catch((e: unknown) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('test.Stat: boom');
    await expect(c.cleanup()).rejects.toBeInstanceOf(NotImplementedError);
  });

  it('an aborted signal cancels the call, and the backend sees its call cancelled', async () => {
    let aborted: { promise: Promise<void> } | undefined;
    const c = await connect({
      prepare: (_k, _p, _l, call: Call) => {
        aborted = { promise: new Promise((res) => call.signal.addEventListener('abort', () => res())) };
        return aborted.promise.then(() => []);
      },
    });
    const ac = new AbortController();
    const pending = c.prepare('k', '', {}, { signal: ac.signal });
    await expect.poll(() => aborted).toBeDefined();
    ac.abort();
    expect(((await pending.catch((e: unknown) => e)) as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
    await aborted!.promise;
  });

  it('lists as a stream across batches, passes filters, and stops early when the reader does', async () => {
    // More than the connection's flow-control windows hold, so an early stop is seen by the server.
    const n = LIST_BATCH_SIZE * 200 + 5;
    const padding = { pad: 'x'.repeat(200) };
    let filtersSeen: readonly string[] = [];
    let produced = 0;
    let finished = false;
    const c = await connect({
      async *list(filter) {
        filtersSeen = filter.source;
        try {
          for (let i = 0; i < n; i++, produced++) yield info(`s${i}`, { parent: i ? `s${i - 1}` : '', kind: 'active', labels: padding });
        } finally {
          finished = true;
        }
      },
    });
    const all: Info[] = [];
    for await (const i of c.list(['kind==active', 'name==x'])) all.push(i);
    expect(filtersSeen).toEqual(['kind==active', 'name==x']);
    expect(all).toHaveLength(n);
    expect(all[n - 1]).toEqual(info(`s${n - 1}`, { parent: `s${n - 2}`, kind: 'active', labels: padding }));

    finished = false;
    produced = 0;
    for await (const i of c.list({ source: [], match: () => true })) if (i.name === 's3') break;
    await expect.poll(() => finished).toBe(true);
    expect(produced).toBeLessThan(n);
  });

  it('a list error arrives as the SDK class', async () => {
    const c = await connect({
      // eslint-disable-next-line require-yield
      async *list() {
        throw new InvalidArgumentError('bad filter');
      },
    });
    const read = async () => {
      for await (const _ of c.list(['x'])) void _;
    };
    await expect(read()).rejects.toThrow(InvalidArgumentError);
  });

  it('ready() resolves on a serving socket and rejects on a dead one', async () => {
    const c = await connect({});
    await c.ready(5_000);
    const dead = connectSnapshots(`${served!.dir}/nothing.sock`);
    await expect(dead.ready(200)).rejects.toThrow('nothing.sock');
    dead.close();
  });
});
