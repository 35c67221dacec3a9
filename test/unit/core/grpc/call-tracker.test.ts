import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../core/contract/errors.js';
import { CallTracker } from '../../../../core/grpc/call-tracker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CallTracker', () => {
  it('counts calls while they run, including ones that fail', async () => {
    const t = new CallTracker();
    const a = t.run(() => sleep(50).then(() => 'a'));
    const b = t.run(() => Promise.reject(new Error('b')));
    expect(t.inFlight).toBe(2);
    await expect(b).rejects.toThrow('b');
    expect(t.inFlight).toBe(1);
    expect(await a).toBe('a');
    expect(t.inFlight).toBe(0);
  });

  it('counts a function that throws synchronously as a rejection', async () => {
    const t = new CallTracker();
    await expect(t.run(() => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(t.inFlight).toBe(0);
  });

  it('drain resolves true when idle, at once or once calls finish', async () => {
    const t = new CallTracker();
    expect(await t.drain(10)).toBe(true);
    void t.run(() => sleep(50));
    void t.run(() => sleep(80));
    const t0 = Date.now();
    expect(await t.drain(2000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(70);
    expect(t.inFlight).toBe(0);
  });

  it('drain resolves false on timeout', async () => {
    const t = new CallTracker();
    let release!: () => void;
    const p = t.run(() => new Promise<void>((r) => (release = r)));
    expect(await t.drain(50)).toBe(false);
    expect(t.inFlight).toBe(1);
    release();
    await p;
    expect(await t.drain(50)).toBe(true);
  });

  it('abort aborts the signal with an UnavailableError (or the reason) and refuses new calls', async () => {
    const t = new CallTracker();
    expect(t.signal.aborted).toBe(false);
    t.abort();
    expect(t.signal.aborted).toBe(true);
    expect(t.signal.reason).toBeInstanceOf(UnavailableError);
    await expect(t.run(async () => 1)).rejects.toBeInstanceOf(UnavailableError);
    expect(t.inFlight).toBe(0);

    const u = new CallTracker();
    u.abort('stop');
    expect(u.signal.reason).toBe('stop');
  });
});
