/**
 * What backends report at scrape time, rendered through SnaphostMetrics and parsed back: the
 * lazy-layer series, each BackendMetric type, and malformed or clashing reports dropped
 * without breaking the scrape.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SnaphostMetrics } from '../../../../core/metrics/snaphost-metrics.js';
import type { BackendMetric, SnapshotterStatus } from '../../../../core/contract/snapshotter.js';
import { parseExposition, valueOf } from './parse-exposition.js';

const silent = pino({ level: 'silent' });

const lazyStatus: SnapshotterStatus = {
  snapshots: 5,
  diskBytes: 1_000_000,
  layers: [
    { snapshot: 'default/3/sha256:a', digest: 'sha256:aa', reference: 'r/x:1', state: 'available', fetchedBytes: 100, totalBytes: 400, prefetch: 'complete', background: 'running' },
    { snapshot: 'default/4/sha256:b', digest: 'sha256:bb', state: 'available', fetchedBytes: 50, totalBytes: 50, prefetch: 'complete', background: 'complete' },
    { snapshot: 'default/5/sha256:c', digest: 'sha256:cc', state: 'unavailable', reason: 'registry unreachable', fetchedBytes: 0, totalBytes: 1000, prefetch: 'Running 45%!' },
  ],
  metrics: [
    { name: 'fetched_bytes_total', help: 'Bytes fetched from registries.', type: 'counter', value: 123456 },
    { name: 'cache_requests_total', help: 'Chunk cache lookups.', type: 'counter', value: 7, labels: { result: 'hit' } },
    { name: 'cache_requests_total', help: 'Chunk cache lookups.', type: 'counter', value: 3, labels: { result: 'miss' } },
    { name: 'cache_bytes', help: 'Bytes in the chunk cache.\nSecond "line" \\ end', type: 'gauge', value: 2048, labels: { path: 'C:\\cache "x"\n' } },
    {
      name: 'fuse_read_seconds',
      help: 'FUSE read latency.',
      type: 'histogram',
      buckets: [
        { le: 0.0005, count: 2 },
        { le: 0.01, count: 9 },
        { le: 1, count: 10 },
      ],
      sum: 0.75,
      count: 11,
      labels: { op: 'read' },
    },
  ],
};

async function render(statuses: Record<string, () => Promise<SnapshotterStatus>>, log = silent) {
  const m = new SnaphostMetrics({ collectTimeoutMs: 500, log });
  for (const [name, status] of Object.entries(statuses)) m.addBackend(name, status);
  const { body } = await m.render();
  return parseExposition(body);
}

describe('backend status series', () => {
  it('renders lazy layers and counter, gauge and histogram metrics as valid exposition', async () => {
    const f = await render({ lazy: async () => lazyStatus });
    const v = (name: string, labels: Record<string, string> = {}) => valueOf(f, name, { backend: 'lazy', ...labels });
    expect(v('snaphost_backend_up')).toBe(1);
    expect(v('snaphost_backend_snapshots')).toBe(5);
    expect(v('snaphost_backend_disk_bytes')).toBe(1_000_000);
    expect(v('snaphost_backend_layers', { state: 'available' })).toBe(2);
    expect(v('snaphost_backend_layers', { state: 'unavailable' })).toBe(1);
    expect(v('snaphost_backend_layer_fetched_bytes')).toBe(150);
    expect(v('snaphost_backend_layer_size_bytes')).toBe(1450);
    expect(v('snaphost_backend_layer_prefetch', { state: 'complete' })).toBe(2);
    expect(v('snaphost_backend_layer_prefetch', { state: 'other' })).toBe(1);
    expect(v('snaphost_backend_layer_background', { state: 'running' })).toBe(1);
    expect(v('snaphost_backend_layer_background', { state: 'complete' })).toBe(1);

    expect(f.get('snaphost_backend_fetched_bytes_total')).toMatchObject({ type: 'counter', help: 'Bytes fetched from registries.' });
    expect(v('snaphost_backend_fetched_bytes_total')).toBe(123456);
    expect(v('snaphost_backend_cache_requests_total', { result: 'hit' })).toBe(7);
    expect(v('snaphost_backend_cache_requests_total', { result: 'miss' })).toBe(3);
    expect(f.get('snaphost_backend_cache_bytes')).toMatchObject({ type: 'gauge', help: 'Bytes in the chunk cache.\nSecond "line" \\ end' });
    expect(f.get('snaphost_backend_cache_bytes')!.samples).toEqual([
      { name: 'snaphost_backend_cache_bytes', labels: { backend: 'lazy', path: 'C:\\cache "x"\n' }, value: 2048 },
    ]);

    const h = f.get('snaphost_backend_fuse_read_seconds')!;
    expect(h.type).toBe('histogram');
    const bucket = (le: string) => v('snaphost_backend_fuse_read_seconds_bucket', { op: 'read', le });
    expect([bucket('0.0005'), bucket('0.01'), bucket('1'), bucket('+Inf')]).toEqual([2, 9, 10, 11]);
    expect(v('snaphost_backend_fuse_read_seconds_sum', { op: 'read' })).toBe(0.75);
    expect(v('snaphost_backend_fuse_read_seconds_count', { op: 'read' })).toBe(11);
  });

  it('reports a counter as the value the backend gives, every collection (not accumulated)', async () => {
    let value = 10;
    const m = new SnaphostMetrics({ log: silent, minIntervalMs: 0 });
    m.addBackend('b', async () => ({ metrics: [{ name: 'reads_total', help: 'Reads.', type: 'counter', value }] }));
    expect(valueOf(parseExposition((await m.render()).body), 'snaphost_backend_reads_total')).toBe(10);
    value = 25;
    expect(valueOf(parseExposition((await m.render()).body), 'snaphost_backend_reads_total')).toBe(25);
  });

  it('merges one metric name across backends, with the backend label apart', async () => {
    const metric = (value: number): BackendMetric[] => [{ name: 'open_files', help: 'Open files.', type: 'gauge', value }];
    const f = await render({ one: async () => ({ metrics: metric(1) }), two: async () => ({ metrics: metric(2) }) });
    expect(f.get('snaphost_backend_open_files')!.samples.map((s) => [s.labels.backend, s.value])).toEqual([
      ['one', 1],
      ['two', 2],
    ]);
  });

  it('drops malformed and clashing series, keeps the rest, and warns once per problem', async () => {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg as string) });
    const bad: unknown[] = [
      { name: 'up', help: 'Clashes with the host series.', type: 'gauge', value: 1 },
      { name: 'Bad-Name', help: 'x', type: 'gauge', value: 1 },
      { name: 'no_help', help: '', type: 'gauge', value: 1 },
      { name: 'neg_total', help: 'x', type: 'counter', value: -1 },
      { name: 'nan_gauge', help: 'x', type: 'gauge', value: NaN },
      { name: 'summary_x', help: 'x', type: 'summary', value: 1 },
      { name: 'own_backend', help: 'x', type: 'gauge', value: 1, labels: { backend: 'other' } },
      { name: 'bad_label', help: 'x', type: 'gauge', value: 1, labels: { 'a-b': 'x' } },
      { name: 'num_label', help: 'x', type: 'gauge', value: 1, labels: { a: 1 } },
      { name: 'h_desc', help: 'x', type: 'histogram', buckets: [{ le: 1, count: 1 }, { le: 0.5, count: 2 }], sum: 1, count: 2 },
      { name: 'h_noncumulative', help: 'x', type: 'histogram', buckets: [{ le: 1, count: 3 }, { le: 2, count: 2 }], sum: 1, count: 3 },
      { name: 'h_count', help: 'x', type: 'histogram', buckets: [{ le: 1, count: 3 }], sum: 1, count: 2 },
      { name: 'h_le', help: 'x', type: 'histogram', buckets: [{ le: 1, count: 1 }], sum: 1, count: 1, labels: { le: '1' } },
      { name: 'lat', help: 'x', type: 'histogram', buckets: [], sum: 0, count: 0 },
      { name: 'lat_count', help: 'Clashes with the histogram lat.', type: 'gauge', value: 1 },
      { name: 'twice', help: 'x', type: 'gauge', value: 1, labels: { a: 'x' } },
      { name: 'twice', help: 'x', type: 'gauge', value: 2, labels: { a: 'x' } },
      'not an object',
    ];
    const m = new SnaphostMetrics({ log });
    m.addBackend('bad', async () => ({ snapshots: -3, diskBytes: Number.POSITIVE_INFINITY, layers: [{ state: 'gone' }], metrics: bad }) as unknown as SnapshotterStatus);
    m.addBackend('other', async () => ({ metrics: [{ name: 'twice', help: 'x', type: 'counter', value: 1 }] }));
    m.addBackend('weird', async () => 'not a status' as unknown as SnapshotterStatus);
    const f = parseExposition((await m.render()).body);
    expect(valueOf(f, 'snaphost_backend_up', { backend: 'bad' })).toBe(1);
    expect(valueOf(f, 'snaphost_backend_up', { backend: 'weird' })).toBe(1);
    expect(valueOf(f, 'snaphost_backend_snapshots', { backend: 'bad' })).toBeUndefined();
    expect(valueOf(f, 'snaphost_backend_disk_bytes', { backend: 'bad' })).toBeUndefined();
    expect(valueOf(f, 'snaphost_backend_layers', { backend: 'bad', state: 'available' })).toBe(0);
    expect(valueOf(f, 'snaphost_backend_twice', { backend: 'bad' })).toBe(1);
    expect(valueOf(f, 'snaphost_backend_twice', { backend: 'other' })).toBeUndefined();
    expect(valueOf(f, 'snaphost_backend_lat_count', { backend: 'bad' })).toBe(0);
    expect(f.get('snaphost_backend_lat')!.type).toBe('histogram');
    const backendFamilies = [...f.keys()].filter((n) => n.startsWith('snaphost_backend_'));
    expect(backendFamilies.sort()).toEqual(
      [
        'snaphost_backend_up',
        'snaphost_backend_status_seconds',
        'snaphost_backend_status_age_seconds',
        'snaphost_backend_status_failures_total',
        'snaphost_backend_layers',
        'snaphost_backend_layer_fetched_bytes',
        'snaphost_backend_layer_size_bytes',
        'snaphost_backend_lat',
        'snaphost_backend_twice',
      ].sort(),
    );
    expect(warnings).toHaveLength(21);
    expect(warnings.some((w) => w.includes('snaphost_backend_up is already a series'))).toBe(true);
    expect(warnings.some((w) => w.includes('snaphost_backend_lat_count is already a series'))).toBe(true);
    expect(warnings.some((w) => w.includes('reported as counter, but another series of that name is a gauge'))).toBe(true);
    expect(warnings.some((w) => w.includes('status() must return an object'))).toBe(true);
    parseExposition((await m.render()).body);
    expect(warnings).toHaveLength(21);
  });

  it('refuses a collect timeout that is not a positive integer', () => {
    expect(() => new SnaphostMetrics({ collectTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => new SnaphostMetrics({ collectTimeoutMs: 1.5 })).toThrow(/positive integer/);
  });

  it('replaces a backend added again; the old unregister does not remove the new source', async () => {
    const m = new SnaphostMetrics({ log: silent });
    const removeOld = m.addBackend('b', async () => ({ snapshots: 1 }));
    m.addBackend('b', async () => ({ snapshots: 2 }));
    removeOld();
    expect(valueOf(parseExposition((await m.render()).body), 'snaphost_backend_snapshots', { backend: 'b' })).toBe(2);
  });
});
