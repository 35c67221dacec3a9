/**
 * Backends' status for scrapes (scrape-status.ts), through SnaphostMetrics.render: many
 * concurrent scrapes cost one status call, scrapes within the minimum interval reuse it, a slow
 * status does not hold a scrape beyond the collect timeout (the last status that answered is
 * served, with its age, and the failure counted), and a late call is never doubled.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SnaphostMetrics } from '../../../../core/metrics/snaphost-metrics.js';
import { StatusCollector } from '../../../../core/metrics/scrape-status.js';
import type { SnapshotterStatus } from '../../../../core/contract/snapshotter.js';
import { parseExposition, valueOf } from './parse-exposition.js';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('status collection for scrapes', () => {
  it('100 concurrent scrapes cost one status call; scrapes within minIntervalMs reuse it', async () => {
    let calls = 0;
    const m = new SnaphostMetrics({ log: silent, minIntervalMs: 60_000 });
    m.addBackend('slowish', async () => {
      calls++;
      await sleep(50); // a root walk and a FUSE process query
      return { snapshots: calls };
    });
    const bodies = await Promise.all(Array.from({ length: 100 }, () => m.render()));
    expect(calls).toBe(1);
    for (const { body } of bodies) expect(valueOf(parseExposition(body), 'snaphost_backend_snapshots', { backend: 'slowish' })).toBe(1);
    await Promise.all(Array.from({ length: 100 }, () => m.render()));
    expect(calls).toBe(1);
  });

  it('minIntervalMs 0 collects at every scrape but still one call for concurrent scrapes', async () => {
    let calls = 0;
    const m = new SnaphostMetrics({ log: silent, minIntervalMs: 0 });
    m.addBackend('b', async () => {
      calls++;
      await sleep(20);
      return { snapshots: 1 };
    });
    await Promise.all(Array.from({ length: 50 }, () => m.render()));
    expect(calls).toBe(1);
    await m.render();
    expect(calls).toBe(2);
  });

  it('a slow status does not hold the scrape beyond the collect timeout; the last answer is served with its age; the late call is not doubled', async () => {
    let mode: 'fast' | 'hang' = 'fast';
    let calls = 0;
    let release: (() => void) | undefined;
    const m = new SnaphostMetrics({ log: silent, minIntervalMs: 0, collectTimeoutMs: 200 });
    m.addBackend('b', (signal) => {
      calls++;
      if (mode === 'fast') return Promise.resolve({ snapshots: 7 });
      // Ignores its signal: answers only when released.
      void signal;
      return new Promise<SnapshotterStatus>((resolve) => (release = () => resolve({ snapshots: 8 })));
    });
    const first = parseExposition((await m.render()).body);
    expect(valueOf(first, 'snaphost_backend_up', { backend: 'b' })).toBe(1);

    mode = 'hang';
    const started = performance.now();
    const late = parseExposition((await m.render()).body);
    const ms = performance.now() - started;
    // Timeout 200 ms; a loaded 2-core machine gets 10x that.
    expect(ms).toBeLessThan(2_000);
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(valueOf(late, 'snaphost_backend_up', { backend: 'b' })).toBe(0);
    expect(valueOf(late, 'snaphost_backend_snapshots', { backend: 'b' })).toBe(7); // the last status that answered
    expect(valueOf(late, 'snaphost_backend_status_age_seconds', { backend: 'b' })).toBeGreaterThan(0.1);
    expect(valueOf(late, 'snaphost_backend_status_failures_total', { backend: 'b' })).toBe(1);

    // The hung call is still running: scrapes answer at once, without a second call.
    const again = performance.now();
    await Promise.all(Array.from({ length: 20 }, () => m.render()));
    expect(performance.now() - again).toBeLessThan(1_000);
    expect(calls).toBe(2);

    release!();
    await sleep(10);
    const after = parseExposition((await m.render()).body);
    expect(calls).toBe(3); // the late call settled: collections go on
    expect(valueOf(after, 'snaphost_backend_snapshots', { backend: 'b' })).toBe(8);
  });

  it('a status that throws is a failed collection, counted once per collection, never a failed scrape', async () => {
    let now = 0;
    const failures: string[] = [];
    const c = new StatusCollector({ timeoutMs: 1_000, minIntervalMs: 10_000, now: () => now, onFailure: (b, e) => failures.push(`${b}: ${e}`) });
    const source = () => Promise.reject(new Error('exploded'));
    const [r] = await c.collect([['x', source]]);
    expect(r).toMatchObject({ backend: 'x', up: false, error: expect.stringContaining('exploded') });
    expect(r!.status).toBeUndefined();
    now = 9_999;
    await c.collect([['x', source]]);
    expect(failures).toHaveLength(1);
    now = 10_000;
    await c.collect([['x', source]]);
    expect(failures).toHaveLength(2);
  });

  it('refuses a minIntervalMs that is not a non-negative integer', () => {
    expect(() => new SnaphostMetrics({ minIntervalMs: -1 })).toThrow(RangeError);
    expect(() => new SnaphostMetrics({ minIntervalMs: 0.5 })).toThrow(/non-negative integer/);
  });
});
