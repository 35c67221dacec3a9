/**
 * The List stream (core/grpc/list-stream.ts) through the adapter: back-pressure and cancel,
 * batches cut by count and by bytes.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { Info, Snapshotter } from '../../../../core/contract/snapshotter.js';
import { nowNs } from '../../../../core/contract/time.js';
import { type Served, fakeSnapshotter, listAll, serve } from './helpers.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close(200);
  served = undefined;
});

async function start(overrides: Partial<Snapshotter>): Promise<Served> {
  served = await serve(fakeSnapshotter(overrides), { backend: 'fake' });
  return served;
}

const info = (name: string, extra: Partial<Info> = {}): Info => {
  const t = nowNs();
  return { name, parent: '', kind: 'active', labels: {}, created: t, updated: t, ...extra };
};

describe('List streaming', () => {
  it('respects back-pressure and stops pulling when the client cancels', async () => {
    const total = 20_000;
    let produced = 0;
    let finished = false;
    const s = await start({
      list: () =>
        (async function* () {
          try {
            for (let i = 0; i < total; i++) {
              produced++;
              yield info(`bp/${i}`, { labels: { pad: 'x'.repeat(2048) } });
            }
          } finally {
            finished = true;
          }
        })(),
    });
    const stream = s.client.list({ filters: [] });
    await once(stream, 'data');
    stream.pause();
    // The transport buffers fill first; wait (bounded) until production stops, which on a
    // loaded machine can take longer than on an idle one (a quiet 300 ms there can be a stall,
    // so it must stay stopped for three checks in a row), then check it stays stopped.
    let whilePaused = -1;
    for (let waited = 0, quiet = 0; waited < 15_000 && quiet < 3; waited += 300) {
      quiet = produced === whilePaused ? quiet + 1 : 0;
      whilePaused = produced;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(whilePaused).toBeLessThan(total / 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(produced).toBe(whilePaused); // nothing more is pulled while the client does not read
    stream.on('error', () => {}); // the CANCELLED status
    stream.cancel();
    await expect.poll(() => finished).toBe(true);
    expect(produced).toBeLessThan(total);
    await expect.poll(() => s.calls.inFlight).toBe(0);
  }, 30_000);

  it('also cuts batches at 1 MiB so large labels never exceed client message limits', async () => {
    const labels = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`l${i}`, 'x'.repeat(3000)]));
    const s = await start({ list: () => Array.from({ length: 10 }, (_, i) => info(`big/${i}`, { labels })) });
    const { infos, batchSizes } = await listAll(s.client);
    expect(infos).toHaveLength(10);
    expect(batchSizes).toEqual([3, 3, 3, 1]); // ~300 KB each: a fourth would take the message over 1 MiB
  });

  it('sends nothing but the end for an empty result', async () => {
    const s = await start({ list: () => [] });
    const { infos, batchSizes } = await listAll(s.client);
    expect(infos).toEqual([]);
    expect(batchSizes).toEqual([]);
  });

  it('accepts a synchronous iterable and batches by 100', async () => {
    const s = await start({ list: () => Array.from({ length: 201 }, (_, i) => info(`s/${i}`)) });
    const { batchSizes } = await listAll(s.client);
    expect(batchSizes).toEqual([100, 100, 1]);
  });
});
