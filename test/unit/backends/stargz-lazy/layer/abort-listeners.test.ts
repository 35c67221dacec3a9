/**
 * A long-lived AbortSignal (a layer's prefetch or background-fetch signal, a mount's) passed to
 * many operations gathers no 'abort' listeners: each operation removes what it added when it
 * ends, and one operation holds at most a few at once, however many chunks it joins (a read of
 * 40 chunks used to add 40 at once: Node's MaxListenersExceededWarning seen in fused).
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { abortable } from '../../../../../backends/stargz-lazy/layer/in-flight.js';
import { RemoteLayer } from '../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { Retryable, sleep, withRetry } from '../../../../../backends/stargz-lazy/registry/retry.js';
import { buildBlob, sha256 } from '../estargz/make-blob.js';
import { testData } from '../registry/servers/test-client.js';
import { clientFor, removeTemps, startSwitchableServer, tempCache } from './layer-env.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await removeTemps();
});

/** A signal that records the most 'abort' listeners it held at once. */
function watchedSignal(): { signal: AbortSignal; peak: () => number; now: () => number } {
  const signal = new AbortController().signal;
  let peak = 0;
  const add = signal.addEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: AddEventListenerOptions | boolean) => {
    add(type, listener, options);
    peak = Math.max(peak, getEventListeners(signal, 'abort').length);
  }) as AbortSignal['addEventListener'];
  return { signal, peak: () => peak, now: () => getEventListeners(signal, 'abort').length };
}

describe('abort listeners on a long-lived signal', () => {
  it('a 40-chunk read holds at most 2 at once; a prefetch, 1000 reads and a fetch of every chunk leave none behind', async () => {
    const data = testData(40 * 1024, 7);
    const built = buildBlob([
      { name: 'many', data, chunkSize: 1024 },
      { name: '.prefetch.landmark', data: Buffer.from([0x0f]) },
      { name: 'rest', data: testData(8 * 1024, 8), chunkSize: 1024 },
    ]);
    const server = await startSwitchableServer(built.blob);
    cleanup.push(() => server.close());
    const t = clientFor(server, sha256(built.blob));
    cleanup.push(() => t.client.close());
    const c = await tempCache(64 * 1024 * 1024);
    const layer = await RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log, regionBytes: 0 });
    const node = layer.index.lookup('many')!;
    expect(node.chunks).toHaveLength(40);

    const s = watchedSignal();
    expect(s.now()).toBe(0);
    // A read of all 40 chunks while none is cached: one batch.
    const first = watchedSignal();
    expect((await layer.read(node, 0, data.length, first.signal)).equals(data)).toBe(true);
    expect(first.peak()).toBeLessThanOrEqual(2);
    // The read answers as soon as its chunks are verified; its batch lets go of the signal
    // once the last member is in the cache, a moment later.
    await vi.waitFor(() => expect(first.now()).toBe(0), { timeout: 2_000, interval: 5 });
    const prefetched = await layer.prefetch({ maxBytes: 1024 * 1024, timeoutMs: 10_000, signal: s.signal });
    expect(prefetched.complete).toBe(true);
    await vi.waitFor(() => expect(s.now()).toBe(0), { timeout: 2_000, interval: 5 });
    for (let i = 0; i < 1000; i++) {
      const offset = (i * 977) % data.length;
      const got = await layer.read(node, offset, 5000, s.signal);
      expect(got.equals(data.subarray(offset, offset + 5000))).toBe(true);
    }
    await vi.waitFor(() => expect(s.now()).toBe(0), { timeout: 2_000, interval: 5 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => layer.read(node, i * 1024, 3000, s.signal)));
    await vi.waitFor(() => expect(s.now()).toBe(0), { timeout: 2_000, interval: 5 });
    await layer.fetchIntoCache(layer.missingChunks(), s.signal);
    await vi.waitFor(() => expect(s.now()).toBe(0), { timeout: 2_000, interval: 5 });
    // 20 concurrent reads on one signal hold at most 2 each.
    expect(s.peak()).toBeLessThanOrEqual(2 * 20);
  });
});

describe('abort listeners of the small helpers', () => {
  it('abortable, withRetry (with its backoff sleeps) and sleep, 1000 times each on one signal: back to 0 after each', async () => {
    const s = watchedSignal();
    const policy = { retries: 1, baseDelayMs: 0, maxDelayMs: 0, totalMs: 60_000 };
    for (let i = 0; i < 1000; i++) {
      await abortable(Promise.resolve(i), s.signal);
      await abortable(Promise.reject(new Error('no')), s.signal).catch(() => undefined);
      let first = true;
      await withRetry(policy, 'op', () => {
        if (!first) return Promise.resolve(1);
        first = false;
        return Promise.reject(new Retryable(new Error('again')));
      }, { signal: s.signal });
      await sleep(0, s.signal);
    }
    expect(s.now()).toBe(0);
    expect(s.peak()).toBeLessThanOrEqual(1);
  });
});
