/**
 * Issue #13 rows 4, 5 and 8 through the real adapter, the real `memory` backend and real
 * grpc-js clients on a unix socket: a pathological `~=` filter cannot hold up another
 * client, an error about a huge key or filter comes back short and leaves the connection
 * usable, and a label set cannot grow past its bounds (nor lose a `__proto__` key).
 */
import { rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import memory from '../../../../backends/memory/index.js';
import type { MountsResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/MountsResponse.js';
import type { SnapshotsClient } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/Snapshots.js';
import type { StatSnapshotResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/StatSnapshotResponse.js';
import type { UpdateSnapshotResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/UpdateSnapshotResponse.js';
import { DEFAULT_REQUEST_LIMITS } from '../../../../core/grpc/request-limits.js';
import { MAX_STATUS_MESSAGE_BYTES } from '../../../../core/grpc/status.js';
import { InvalidArgumentError } from '../../../../core/contract/errors.js';
import type { Snapshotter } from '../../../../core/contract/snapshotter.js';
import { type Served, fakeSnapshotter, grpcError, listAll, newClient, serve, silentLog, tempDir, unary } from './helpers.js';

let root: string;
let sn: Snapshotter;
let s: Served;
let other: SnapshotsClient; // a second client on its own connection

beforeAll(async () => {
  root = await tempDir('snaphost-hostile-');
  sn = await memory.create(memory.options.parse({ size: '256m' }), { name: 'memory', root, log: silentLog, signal: new AbortController().signal });
  s = await serve(sn, { backend: 'memory' });
  other = newClient(s.socket, { own: true });
});

afterAll(async () => {
  other?.close();
  await s?.close();
  await sn?.close?.();
  if (root) await rm(root, { recursive: true, force: true });
});

const deadline = (ms = 10_000) => ({ deadline: Date.now() + ms });
const prepare = (client: SnapshotsClient, key: string, labels: Record<string, string> = {}) =>
  unary<MountsResponse__Output>((cb) => client.prepare({ key, parent: '', labels }, new grpc.Metadata(), deadline(), cb));
const stat = (client: SnapshotsClient, key: string) =>
  unary<StatSnapshotResponse__Output>((cb) => client.stat({ key }, new grpc.Metadata(), deadline(), cb)).then((r) => r.info!);
const update = (client: SnapshotsClient, name: string, labels: Record<string, string>, paths: string[]) =>
  unary<UpdateSnapshotResponse__Output>((cb) => client.update({ info: { name, labels }, updateMask: { paths } }, new grpc.Metadata(), deadline(), cb)).then((r) => r.info!);
const bytes = (text: string) => Buffer.byteLength(text);

/** A random a/b string (deterministic). */
function ab(n: number, seed: number): string {
  let x = seed;
  let out = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += (x >> 16) & 1 ? 'a' : 'b';
  }
  return out;
}

describe('row 4: a pathological ~= filter', () => {
  it('^(a+)+$ over 4 KiB values answers at once (RE2, no backtracking)', async () => {
    for (let i = 0; i < 50; i++) await prepare(s.client, `evil/${i}`, { v: `${'a'.repeat(4000)}!` });
    const t0 = performance.now();
    const { infos } = await listAll(s.client, ['labels.v~=^(a+)+$']);
    const ms = performance.now() - t0;
    expect(infos).toEqual([]);
    expect(ms).toBeLessThan(5000); // measured ~30 ms; a backtracking RegExp: 40 s for one value
  });

  it("another client's Stat answers within 1 s while a long regex List runs", async () => {
    // An expression near the instruction bound that defeats RE2's DFA: matches take up to
    // ~100-200 ms of NFA work each, so the List runs for a while (measured 0.4-2 s).
    const alternatives = Array.from({ length: 24 }, (_, i) => `[ab]*a[ab]{${i % 12}}c`).join('|');
    const filter = `labels.v~=/(?:${alternatives})/`;
    for (let i = 0; i < 60; i++) await prepare(s.client, `slow/${i}`, { v: ab(4000, i + 1) });
    await prepare(s.client, 'probe');
    const listStart = performance.now();
    let listEnded = 0;
    const listing = listAll(s.client, [filter]).then((r) => {
      listEnded = performance.now();
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    const latencies: number[] = [];
    while (listEnded === 0 && latencies.length < 20) {
      const t0 = performance.now();
      expect((await stat(other, 'probe')).name).toBe('probe');
      latencies.push(performance.now() - t0);
    }
    const { infos } = await listing;
    expect(infos).toEqual([]);
    expect(latencies.length).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(1000);
    expect(listEnded - listStart).toBeLessThan(120_000); // linear: 60 values x one match each
  }, 180_000);

  it('a filter over a bound is refused naming the bound', async () => {
    const tooBig = `name==${'x'.repeat(DEFAULT_REQUEST_LIMITS.maxFilterBytes)}`;
    const e1 = await grpcError(listAll(s.client, [tooBig]));
    expect(e1.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e1.details).toMatch(/more than the maximum of 131072 bytes \(maxFilterBytes\)/);
    const e2 = await grpcError(listAll(s.client, [Array.from({ length: 300 }, (_, i) => `labels.l${i}`).join(',')]));
    expect(e2.details).toMatch(/maxFilterSelectors/);
    const e3 = await grpcError(listAll(s.client, [`labels.v~=/${'a'.repeat(2000)}/`]));
    expect(e3.details).toMatch(/2000 bytes, more than the maximum of 1024 \(maxRegexBytes\)/);
    const e4 = await grpcError(listAll(s.client, ['labels.v~=/a{999}/']));
    expect(e4.details).toMatch(/instructions, more than the maximum of 256 \(maxRegexInstructions\)/);
  });
});

describe('row 5: errors that echo huge input', () => {
  it('a 32 KiB key in NOT_FOUND comes back truncated, and the same connection serves the next call', async () => {
    const key = 'k'.repeat(32 * 1024);
    const err = await grpcError(stat(s.client, key));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(bytes(err.details)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(err.details).toContain('…(32768 bytes)');
    await prepare(s.client, 'after-huge-key');
    expect((await stat(s.client, 'after-huge-key')).name).toBe('after-huge-key');
  });

  it('a 64 KiB key is refused briefly; the connection stays usable', async () => {
    const err = await grpcError(stat(s.client, 'k'.repeat(64 * 1024)));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bytes(err.details)).toBeLessThan(512);
    expect((await stat(s.client, 'after-huge-key')).name).toBe('after-huge-key');
  });

  it('a parse error in a 100 KB filter shows a window around the error, not the filter', async () => {
    const err = await grpcError(listAll(s.client, [`name==a,labels.${'x'.repeat(100_000)}=="unterminated`]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bytes(err.details)).toBeLessThan(1024);
    expect(err.details).toMatch(/parse error at position \d+: \[\(\d+ more\)…/);
  });

  it('a 3 MB filter and a 32 KiB key are never logged whole', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const logged = await serve(fakeSnapshotter({ list: () => [] }), { log });
    try {
      const err = await grpcError(listAll(logged.client, [`name==${'x'.repeat(3_000_000)}`]));
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      await grpcError(stat(logged.client, 'k'.repeat(32 * 1024)));
      expect(lines.length).toBeGreaterThan(0);
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(8 * 1024);
    } finally {
      await logged.close();
    }
  });

  it('whatever a backend puts in a message, the status is capped and the connection survives', async () => {
    const huge = await serve(
      fakeSnapshotter({
        stat: (key) => {
          throw new InvalidArgumentError(`bad ${key}: ${'é'.repeat(200_000)}`);
        },
      }),
    );
    try {
      const err = await grpcError(stat(huge.client, 'x'));
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(bytes(err.details)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
      expect(err.details).toMatch(/…\(400007 bytes\)$/); // 'bad x: ' + 200000 x 2 bytes
      const again = await grpcError(stat(huge.client, 'y'));
      expect(again.details).toMatch(/^bad y: /);
    } finally {
      await huge.close();
    }
  });
});

describe('row 8: label growth', () => {
  it('repeated Update labels.<k> is refused at maxLabelSetBytes with INVALID_ARGUMENT; Stat and List go on', async () => {
    await prepare(s.client, 'grow');
    let refused: grpc.ServiceError | undefined;
    let accepted = 0;
    for (let i = 0; i < 200 && !refused; i++) {
      try {
        await update(s.client, 'grow', { [`k${i}`]: 'v'.repeat(4000) }, [`labels.k${i}`]);
        accepted++;
      } catch (err) {
        refused = err as grpc.ServiceError;
      }
    }
    expect(refused?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused?.details).toMatch(/^snapshot "grow" would have \d+ bytes of labels, more than the maximum of 262144 \(maxLabelSetBytes\)$/);
    expect(accepted).toBe(Math.floor(262_144 / 4002)); // 'k<i>' + 4000 bytes each, up to the bound
    const info = await stat(other, 'grow');
    expect(Object.keys(info.labels)).toHaveLength(accepted);
    const { infos } = await listAll(other, ['name==grow']);
    expect(infos).toHaveLength(1);
  });

  it('too many labels, or one too big, is refused naming the bound or the key (truncated)', async () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`m${i}`, '1']));
    const e1 = await grpcError(prepare(s.client, 'many', many));
    expect(e1.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e1.details).toBe('snapshot "many" would have 300 labels, more than the maximum of 256 (maxLabels)');
    await prepare(s.client, 'few');
    const e2 = await grpcError(update(s.client, 'few', many, ['labels']));
    expect(e2.details).toMatch(/maxLabels/);
    const longKey = 'K'.repeat(1000);
    const e3 = await grpcError(update(s.client, 'few', { [longKey]: 'v'.repeat(3500) }, [`labels.${longKey}`]));
    expect(e3.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e3.details).toMatch(/^label "K{64}"…\(1000 bytes\): key and value are 4500 bytes, more than the maximum of 4096/);
    expect(Object.keys((await stat(s.client, 'few')).labels)).toEqual([]);
  });

  it('__proto__, constructor and prototype labels are kept through Prepare, Update, Stat and List', async () => {
    const labels = JSON.parse('{"__proto__":"p","constructor":"c","prototype":"t"}') as Record<string, string>;
    await prepare(s.client, 'proto', labels);
    const info = await stat(s.client, 'proto');
    expect(Object.entries(info.labels).sort()).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['prototype', 't'],
    ]);
    const updated = await update(s.client, 'proto', JSON.parse('{"__proto__":"q"}') as Record<string, string>, ['labels.__proto__']);
    expect(Object.getOwnPropertyDescriptor(updated.labels, '__proto__')?.value).toBe('q');
    const { infos } = await listAll(other, ['labels.__proto__==q,labels.constructor==c']);
    expect(infos.map((i) => i.name)).toEqual(['proto']);
  });
});
