/** When the keeper starts the FUSE-serving process again (restart-policy.ts). */
import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../../../../../backends/stargz-lazy/fuse-kernel/keeper/restart-policy.js';

const killed = { code: null, signal: 'SIGKILL' as const };

describe('RestartPolicy', () => {
  it('restarts a process killed or crashed while connections are kept, with a doubling delay', () => {
    const p = new RestartPolicy({ firstDelayMs: 10 });
    expect(p.decide(killed, 1, false, 0)).toEqual({ restart: true, delayMs: 10 });
    expect(p.decide({ code: 1, signal: null }, 1, false, 1)).toEqual({ restart: true, delayMs: 20 });
    expect(p.decide({ code: 0, signal: null }, 2, false, 2)).toEqual({ restart: true, delayMs: 40 });
  });

  it('does not restart with nothing kept, when stopping, or after a usage / already-running exit', () => {
    const p = new RestartPolicy();
    expect(p.decide(killed, 0, false)).toMatchObject({ restart: false, reason: 'no connection kept' });
    expect(p.decide(killed, 3, true)).toMatchObject({ restart: false, reason: /asked to stop/ });
    expect(p.decide({ code: 2, signal: null }, 3, false)).toMatchObject({ restart: false, reason: /exit code 2/ });
    expect(p.decide({ code: 3, signal: null }, 3, false)).toMatchObject({ restart: false, reason: /exit code 3/ });
  });

  it('gives up on a crash loop and forgives restarts older than the window', () => {
    const p = new RestartPolicy({ maxRestarts: 2, windowMs: 1000, firstDelayMs: 1 });
    expect(p.decide(killed, 1, false, 0).restart).toBe(true);
    expect(p.decide(killed, 1, false, 10).restart).toBe(true);
    expect(p.decide(killed, 1, false, 20)).toMatchObject({ restart: false, reason: '2 restarts within 1000 ms' });
    expect(p.decide(killed, 1, false, 2000)).toEqual({ restart: true, delayMs: 1 });
  });
});
