/**
 * The adapter against small in-test snapshotters that misbehave: sync throws, rejections,
 * garbage results, slow and cancelled calls, each error class.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  ConfigError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  UnavailableError,
} from '../../../../core/contract/errors.js';
import type { ListSnapshotsResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/ListSnapshotsResponse.js';
import type { Call, Info, Snapshotter } from '../../../../core/contract/snapshotter.js';
import { nowNs } from '../../../../core/contract/time.js';
import { type Served, fakeSnapshotter, grpcError, listAll, serve, unary } from './helpers.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close(200);
  served = undefined;
});

async function start(overrides: Partial<Snapshotter>, log?: pino.Logger): Promise<Served> {
  served = await serve(fakeSnapshotter(overrides), { backend: 'fake', ...(log ? { log } : {}) });
  return served;
}

const info = (name: string, extra: Partial<Info> = {}): Info => {
  const t = nowNs();
  return { name, parent: '', kind: 'active', labels: {}, created: t, updated: t, ...extra };
};
const stat = (s: Served, key: string, md = new grpc.Metadata(), options: grpc.CallOptions = {}) =>
  unary((cb) => s.client.stat({ key }, md, options, cb));

/** A pino logger that keeps its JSON lines. */
function recordingLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'trace', formatters: { level: (label) => ({ level: label }) } }, dest), lines };
}

describe('error classes', () => {
  const cases: Array<[string, () => unknown, grpc.status]> = [
    ['NotFoundError', () => new NotFoundError('nope'), grpc.status.NOT_FOUND],
    ['AlreadyExistsError', () => new AlreadyExistsError('taken'), grpc.status.ALREADY_EXISTS],
    ['FailedPreconditionError', () => new FailedPreconditionError('has children'), grpc.status.FAILED_PRECONDITION],
    ['InvalidArgumentError', () => new InvalidArgumentError('bad'), grpc.status.INVALID_ARGUMENT],
    ['UnavailableError', () => new UnavailableError('later'), grpc.status.UNAVAILABLE],
    ['NotImplementedError', () => new NotImplementedError('no'), grpc.status.UNIMPLEMENTED],
    ['a host error (ConfigError)', () => new ConfigError([{ path: 'x', message: 'y' }]), grpc.status.INTERNAL],
    ['a plain Error', () => new Error('boom'), grpc.status.INTERNAL],
  ];
  for (const [name, make, code] of cases) {
    it(`${name} -> ${grpc.status[code]}`, async () => {
      const s = await start({
        stat: async () => {
          throw make();
        },
      });
      const err = await grpcError(stat(s, 'k'));
      expect(err.code).toBe(code);
      if (code === grpc.status.INTERNAL) expect(err.details).toMatch(/^fake\.Stat: /);
    });
  }
});

describe('a misbehaving backend never takes the server down', () => {
  it('sync throw, rejection, thrown string: INTERNAL naming backend and method; the server keeps serving', async () => {
    let n = 0;
    const s = await start({
      stat: (key) => {
        n++;
        if (key === 'sync') throw new TypeError('sync kaboom');
        if (key === 'reject') return Promise.reject(new RangeError('async kaboom'));
        if (key === 'string') throw 'a bare string'; // eslint-disable-line no-throw-literal
        return info(key);
      },
    });
    for (const [key, msg] of [
      ['sync', 'fake.Stat: sync kaboom'],
      ['reject', 'fake.Stat: async kaboom'],
      ['string', 'fake.Stat: a bare string'],
    ] as const) {
      const err = await grpcError(stat(s, key));
      expect(err.code).toBe(grpc.status.INTERNAL);
      expect(err.details).toBe(msg);
    }
    expect(await stat(s, 'fine')).toMatchObject({ info: { name: 'fine', kind: 'ACTIVE' } });
    expect(n).toBe(4);
  });

  it('garbage results are INTERNAL with what was wrong', async () => {
    const s = await start({
      prepare: () => ({ not: 'an array' }) as never,
      view: () => [{ type: 'bind', source: '/x', options: 'ro' }] as never,
      stat: (key) => (key === 'ms' ? info(key, { created: Date.now() as never }) : key === 'u' ? info(key) : (null as never)),
      usage: () => ({ size: -1, inodes: 1 }),
      update: () => info('u', { kind: 'weird' as never }),
    });
    const expectInternal = async (p: Promise<unknown>, re: RegExp) => {
      const err = await grpcError(p);
      expect(err.code).toBe(grpc.status.INTERNAL);
      expect(err.details).toMatch(re);
    };
    await expectInternal(unary((cb) => s.client.prepare({ key: 'k' }, cb)), /^fake\.Prepare: mounts: expected an array, got object/);
    await expectInternal(unary((cb) => s.client.view({ key: 'k' }, cb)), /^fake\.View: mounts\[0\]: options: expected an array of strings/);
    await expectInternal(stat(s, 'ms'), /^fake\.Stat: info "ms": created: expected a bigint of nanoseconds/);
    await expectInternal(stat(s, 'null'), /^fake\.Stat: info: expected an object, got null/);
    await expectInternal(unary((cb) => s.client.usage({ key: 'k' }, cb)), /^fake\.Usage: usage\.size: expected a non-negative integer, got number -1/);
    await expectInternal(unary((cb) => s.client.update({ info: { name: 'u' } }, cb)), /^fake\.Update: info "u": kind: expected/);
  });

  it('List: a non-iterable, garbage items, a throwing generator are INTERNAL', async () => {
    let mode = '';
    const s = await start({
      list: (() => {
        if (mode === 'promise') return Promise.resolve([]);
        if (mode === 'garbage') return [info('ok'), { name: 'bad' }];
        return (async function* () {
          yield info('first');
          throw new Error('generator broke');
        })();
      }) as never,
    });
    mode = 'promise';
    let err = await grpcError(listAll(s.client));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('fake.List: list() must return an Iterable or AsyncIterable of Info, got Promise');
    mode = 'garbage';
    err = await grpcError(listAll(s.client));
    expect(err.details).toMatch(/^fake\.List: info "bad": parent: expected a string/);
    mode = 'generator';
    err = await grpcError(listAll(s.client));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('fake.List: generator broke');
  });

  it('refuses a bad filter before the backend runs', async () => {
    let called = false;
    const s = await start({
      list: () => {
        called = true;
        return [];
      },
    });
    const err = await grpcError(listAll(s.client, ['kind==active', 'labels.|x|==1']));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain('[labels. >|||< x|==1]: invalid quote encountered');
    expect(called).toBe(false);
  });

  it('cleanup missing -> UNIMPLEMENTED; present -> called', async () => {
    let s = await start({});
    expect((await grpcError(unary((cb) => s.client.cleanup({}, cb)))).code).toBe(grpc.status.UNIMPLEMENTED);
    await s.close();
    let cleaned = 0;
    s = await start({ cleanup: () => void cleaned++ });
    await unary((cb) => s.client.cleanup({}, cb));
    expect(cleaned).toBe(1);
  });
});

describe('the Call a backend receives', () => {
  it('carries the containerd-namespace header when sent, nothing when not', async () => {
    const seen: Array<string | undefined> = [];
    const s = await start({
      stat: (key, call) => {
        seen.push(call.namespace);
        return info(key);
      },
    });
    const md = new grpc.Metadata();
    md.set('containerd-namespace', 'k8s.io');
    await stat(s, 'a', md);
    await stat(s, 'b');
    expect(seen).toEqual(['k8s.io', undefined]);
  });

  it('passes plain values: labels, parent, update masks, filters', async () => {
    const got: unknown[] = [];
    const s = await start({
      prepare: (key, parent, labels) => {
        got.push(['prepare', key, parent, labels]);
        return [{ type: 'bind', source: '/s', options: ['rbind', 'rw'] }];
      },
      commit: (name, key, labels) => void got.push(['commit', name, key, labels]),
      stat: (key) => info(key), // Update reads the labels it merges into (label bounds)
      update: (upd, paths) => {
        got.push(['update', upd, paths]);
        return info(upd.name, { labels: upd.labels });
      },
      list: (filter) => {
        got.push(['list', filter.source]);
        return [info('x', { labels: { a: '1' } }), info('y')];
      },
    });
    const res = await unary((cb) => s.client.prepare({ key: 'k', parent: 'p', labels: { a: 'b' } }, cb));
    expect(res).toEqual({ mounts: [{ type: 'bind', source: '/s', target: '', options: ['rbind', 'rw'] }] });
    await unary((cb) => s.client.commit({ name: 'n', key: 'k', labels: { c: 'd' } }, cb));
    await unary((cb) => s.client.update({ info: { name: 'k', labels: { e: 'f' } }, updateMask: { paths: ['labels.e'] } }, cb));
    const { infos } = await listAll(s.client, ['labels.a']);
    expect(infos.map((i) => i.name)).toEqual(['x']);
    expect(got).toEqual([
      ['prepare', 'k', 'p', { a: 'b' }],
      ['commit', 'n', 'k', { c: 'd' }],
      ['update', { name: 'k', labels: { e: 'f' } }, ['labels.e']],
      ['list', ['labels.a']],
    ]);
  });

  it('commit with a parent (containerd 2.x rebase) is refused unless it is the current parent', async () => {
    const commits: string[] = [];
    const s = await start({
      stat: (key) => info(key, { parent: 'base' }),
      commit: (name) => void commits.push(name),
    });
    const err = await grpcError(unary((cb) => s.client.commit({ name: 'n1', key: 'k', parent: 'other' }, cb)));
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(err.details).toMatch(/rebase is not supported/);
    await unary((cb) => s.client.commit({ name: 'n2', key: 'k', parent: 'base' }, cb));
    expect(commits).toEqual(['n2']);
  });

  it('signal aborts when the deadline passes', async () => {
    let aborted: Promise<unknown> | undefined;
    const s = await start({
      stat: (_key, call: Call) => {
        aborted = once(call.signal, 'abort');
        return new Promise<never>(() => {});
      },
    });
    const err = await grpcError(stat(s, 'slow', new grpc.Metadata(), { deadline: Date.now() + 150 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await aborted;
    await expect.poll(() => s.calls.inFlight).toBe(1); // the hung backend call is still counted
  });

  it('signal aborts when the client cancels, and calls.abort() answers UNAVAILABLE', async () => {
    const signals: AbortSignal[] = [];
    const s = await start({
      stat: (_key, call) => {
        signals.push(call.signal);
        return new Promise<never>((_resolve, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason)));
      },
    });
    const cancelled = s.client.stat({ key: 'c' }, () => {});
    await expect.poll(() => signals.length).toBe(1);
    cancelled.cancel();
    await expect.poll(() => signals[0]!.aborted).toBe(true);
    await expect.poll(() => s.calls.inFlight).toBe(0);

    const pending = grpcError(stat(s, 'h'));
    await expect.poll(() => s.calls.inFlight).toBe(1);
    s.calls.abort();
    const err = await pending;
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toMatch(/shutting down/);
    expect((await grpcError(stat(s, 'after'))).code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('logging', () => {
  it('logs each failed call once with method and key, at the level its code deserves', async () => {
    const { log, lines } = recordingLog();
    const s = await start(
      {
        stat: (key) => {
          if (key === 'nf') throw new NotFoundError('no such snapshot');
          if (key === 'fp') throw new FailedPreconditionError('has children');
          if (key === 'un') throw new UnavailableError('registry down');
          throw new Error('boom');
        },
      },
      log,
    );
    for (const key of ['nf', 'fp', 'un', 'boom']) await grpcError(stat(s, key));
    const failures = lines.filter((l) => l.method === 'Stat' && l.msg !== 'ok' && l.msg !== 'started');
    expect(lines.filter((l) => l.method === 'Stat' && l.msg === 'started').map((l) => [l.key, l.level])).toEqual(
      ['nf', 'fp', 'un', 'boom'].map((k) => [k, 'trace']),
    );
    expect(failures.map((l) => [l.key, l.level])).toEqual([
      ['nf', 'debug'],
      ['fp', 'info'],
      ['un', 'warn'],
      ['boom', 'error'],
    ]);
    const internal = failures[3]!;
    expect(internal.msg).toBe('fake.Stat: boom');
    expect((internal.err as { message: string }).message).toBe('boom');
  });
});

describe('concurrent calls', () => {
  it('answer while a List stream waits on its backend', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = await start({
      stat: (key) => info(key),
      list: () =>
        (async function* () {
          for (let i = 0; i < 100; i++) yield info(`l/${i}`);
          await gate;
          yield info('l/last');
        })(),
    });
    const stream = s.client.list({ filters: [] });
    const first = (await once(stream, 'data')) as [ListSnapshotsResponse__Output];
    expect(first[0].info).toHaveLength(100);
    expect(await stat(s, 'during')).toMatchObject({ info: { name: 'during' } });
    release();
    const [second] = (await once(stream, 'data')) as [ListSnapshotsResponse__Output];
    expect(second.info.map((i) => i.name)).toEqual(['l/last']);
    await once(stream, 'end');
  });
});
