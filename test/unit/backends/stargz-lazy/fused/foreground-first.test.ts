/** ForegroundFirst: work opened ahead waits while a mount's own open runs. */
import { describe, expect, it } from 'vitest';
import { ForegroundFirst } from '../../../../../backends/stargz-lazy/fused/foreground-first.js';

const tick = () => new Promise((r) => setImmediate(r));

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Whether `p` has settled after a turn of the event loop. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await tick();
  return done;
}

describe('ForegroundFirst', () => {
  it('is idle at once when no foreground work runs', async () => {
    expect(await settled(new ForegroundFirst().idle())).toBe(true);
  });

  it('idle waits until every foreground run settled, rejected ones included', async () => {
    const f = new ForegroundFirst();
    const a = deferred<string>();
    const b = deferred<string>();
    const runA = f.run(() => a.promise);
    const runB = f.run(() => b.promise);
    const idle = f.idle();
    expect(await settled(idle)).toBe(false);
    a.resolve('a');
    expect(await runA).toBe('a');
    expect(await settled(idle)).toBe(false);
    b.reject(new Error('registry down'));
    await expect(runB).rejects.toThrow('registry down');
    expect(await settled(idle)).toBe(true);
    expect(await settled(f.idle())).toBe(true);
  });

  it('idle(unless) resolves as soon as `unless` does (a mount took the layer)', async () => {
    const f = new ForegroundFirst();
    const own = deferred();
    void f.run(() => own.promise);
    const taken = deferred();
    const idle = f.idle(taken.promise);
    expect(await settled(idle)).toBe(false);
    taken.resolve();
    expect(await settled(idle)).toBe(true);
    own.resolve();
  });

  it('a run that throws synchronously still counts down', async () => {
    const f = new ForegroundFirst();
    await expect(f.run(() => { throw new Error('bad request'); })).rejects.toThrow('bad request');
    expect(await settled(f.idle())).toBe(true);
  });
});
