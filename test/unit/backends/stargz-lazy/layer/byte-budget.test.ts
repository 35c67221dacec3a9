import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteBudget, Priority, type Lane, type Lease } from '../../../../../backends/stargz-lazy/layer/byte-budget.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';

const tick = () => new Promise((r) => setImmediate(r));

/** Acquires that record when they are granted. */
function tracker(budget: ByteBudget) {
  const order: string[] = [];
  const leases = new Map<string, Lease>();
  const take = (name: string, bytes: number, lane: Lane | Priority, signal?: AbortSignal) =>
    budget.acquire(bytes, lane, signal).then((lease) => {
      order.push(name);
      leases.set(name, lease);
      return lease;
    });
  return { order, leases, take };
}

describe('ByteBudget', () => {
  it('grants while the bytes fit, in order, and each release once', async () => {
    const budget = new ByteBudget('test', 100);
    const t = tracker(budget);
    void t.take('a', 60, 'foreground');
    void t.take('b', 50, 'foreground');
    void t.take('c', 10, 'foreground');
    await tick();
    // c would fit but waits behind b: a large request is not overtaken forever.
    expect(t.order).toEqual(['a']);
    expect(budget.heldBytes).toBe(60);
    t.leases.get('a')!.release();
    t.leases.get('a')!.release(); // twice: no effect
    await tick();
    expect(t.order).toEqual(['a', 'b', 'c']);
    expect(budget.heldBytes).toBe(60);
    expect(budget.highWaterBytes).toBe(60);
  });

  it('charges a request larger than its lane its capacity: it runs alone', async () => {
    const budget = new ByteBudget('test', 100, 0.5);
    const fg = await budget.acquire(1000, 'foreground');
    expect(fg.bytes).toBe(100);
    fg.release();
    const bg = await budget.acquire(1000, 'background');
    expect(bg.bytes).toBe(50);
    expect(budget.highWaterBytes).toBe(100);
  });

  it('serves the foreground lane first and keeps the background lane to its share', async () => {
    const budget = new ByteBudget('test', 100, 0.75);
    const t = tracker(budget);
    void t.take('bg1', 40, 'background');
    void t.take('bg2', 40, 'background'); // 80 > 75: waits although 60 are free
    await tick();
    expect(t.order).toEqual(['bg1']);
    void t.take('fg1', 50, 'foreground'); // fits in what background may not take
    await tick();
    expect(t.order).toEqual(['bg1', 'fg1']);
    void t.take('fg2', 20, 'foreground');
    t.leases.get('bg1')!.release();
    await tick();
    // fg2 was queued after bg2 but is granted first.
    expect(t.order).toEqual(['bg1', 'fg1', 'fg2']);
    t.leases.get('fg1')!.release();
    await tick();
    expect(t.order).toEqual(['bg1', 'fg1', 'fg2', 'bg2']);
  });

  it('a waiting background request whose priority is promoted goes ahead of the background queue', async () => {
    const budget = new ByteBudget('test', 100, 0.5);
    const t = tracker(budget);
    const first = await t.take('bg0', 50, 'background');
    void t.take('bg1', 50, 'background');
    const priority = new Priority('background');
    void t.take('promoted', 80, priority);
    await tick();
    expect(t.order).toEqual(['bg0']);
    priority.promote();
    priority.promote(); // twice: no effect
    first.release();
    await tick();
    // Charged as foreground now (80, not clamped to the background's 50), and granted first.
    expect(t.order).toEqual(['bg0', 'promoted']);
    expect(t.leases.get('promoted')!.bytes).toBe(80);
    t.leases.get('promoted')!.release();
    await tick();
    expect(t.order).toEqual(['bg0', 'promoted', 'bg1']);
  });

  it('an aborted wait holds nothing and unblocks the requests behind it', async () => {
    const budget = new ByteBudget('test', 100);
    const t = tracker(budget);
    const a = await t.take('a', 50, 'foreground');
    const abort = new AbortController();
    const big = t.take('big', 80, 'foreground', abort.signal);
    void t.take('small', 40, 'foreground');
    await tick();
    expect(t.order).toEqual(['a']);
    abort.abort(new Error('gone'));
    await expect(big).rejects.toThrow('gone');
    await tick();
    expect(t.order).toEqual(['a', 'small']);
    a.release();
    await expect(budget.acquire(1, 'foreground', AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
    expect(budget.waiting).toBe(0);
  });

  it('refuses bad arguments', async () => {
    expect(() => new ByteBudget('x', 0)).toThrow(InvalidArgumentError);
    expect(() => new ByteBudget('x', 10, 0)).toThrow(InvalidArgumentError);
    await expect(new ByteBudget('x', 10).acquire(-1, 'foreground')).rejects.toThrow(InvalidArgumentError);
  });

  it('property: never holds more than its capacity (nor background more than its share), and grants every request', async () => {
    const request = fc.record({
      bytes: fc.integer({ min: 0, max: 150 }),
      lane: fc.constantFrom<Lane>('foreground', 'background'),
      holdTicks: fc.integer({ min: 0, max: 3 }),
      abort: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.constantFrom(0.25, 0.5, 0.75, 1), fc.array(request, { maxLength: 40 }), async (capacity, share, requests) => {
        const budget = new ByteBudget('prop', capacity, share);
        let held = { foreground: 0, background: 0 };
        let granted = 0;
        let aborted = 0;
        await Promise.all(
          requests.map(async (r, i) => {
            const abort = new AbortController();
            if (r.abort) setImmediate(() => abort.abort(new Error('aborted')));
            let lease: Lease;
            try {
              lease = await budget.acquire(r.bytes, r.lane, abort.signal);
            } catch {
              aborted++;
              return;
            }
            granted++;
            held = { ...held, [r.lane]: held[r.lane] + lease.bytes };
            expect(held.foreground + held.background).toBeLessThanOrEqual(capacity);
            expect(held.background).toBeLessThanOrEqual(budget.backgroundCapacity);
            // Granted ones whose continuation has not run yet are held too.
            expect(held.foreground + held.background).toBeLessThanOrEqual(budget.heldBytes);
            expect(budget.heldBytes).toBeLessThanOrEqual(capacity);
            for (let k = 0; k < r.holdTicks + (i % 2); k++) await tick();
            held = { ...held, [r.lane]: held[r.lane] - lease.bytes };
            lease.release();
          }),
        );
        expect(granted + aborted).toBe(requests.length);
        expect(budget.heldBytes).toBe(0);
        expect(budget.highWaterBytes).toBeLessThanOrEqual(capacity);
      }),
      { numRuns: 200 },
    );
  });
});

describe('ByteBudget fast path', () => {
  it('grants a request with nothing ahead at once, without listening on its signal; one behind a waiter waits', async () => {
    const budget = new ByteBudget('t', 100);
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      listeners++;
      add(...args);
    }) as AbortSignal['addEventListener'];
    const first = await budget.acquire(60, 'foreground', ac.signal);
    expect(listeners).toBe(0);
    const waiting = budget.acquire(60, 'foreground', ac.signal);
    expect(listeners).toBe(1);
    // Fits (61 <= 100), but a foreground request waits ahead of it: it is queued, not granted.
    let small = false;
    const behind = budget.acquire(1, new Priority('background')).then((l) => ((small = true), l));
    await tick();
    expect(small).toBe(false);
    expect(budget.heldBytes).toBe(60);
    first.release();
    (await waiting).release();
    (await behind).release();
    expect(budget.heldBytes).toBe(0);
  });
});
