import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchIdle } from '../../../../../backends/stargz-lazy/fused/idle-exit.js';

describe('watchIdle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('calls onIdle once, after idleExitMs without anything busy', () => {
    const onIdle = vi.fn();
    watchIdle({ idleExitMs: 1_000, busy: () => false, onIdle, checkEveryMs: 100, now: () => Date.now() });
    vi.advanceTimersByTime(1_000);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(200);
    expect(onIdle).toHaveBeenCalledTimes(1);
    expect(onIdle.mock.calls[0]![0]).toBeGreaterThanOrEqual(1_000);
    vi.advanceTimersByTime(10_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('starts counting again whenever something is busy', () => {
    let busy = true;
    const onIdle = vi.fn();
    watchIdle({ idleExitMs: 1_000, busy: () => busy, onIdle, checkEveryMs: 100 });
    vi.advanceTimersByTime(5_000);
    expect(onIdle).not.toHaveBeenCalled();
    busy = false;
    vi.advanceTimersByTime(700);
    busy = true;
    vi.advanceTimersByTime(100);
    busy = false;
    vi.advanceTimersByTime(900);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(300);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('0 turns it off; stop() ends the watch', () => {
    const onIdle = vi.fn();
    watchIdle({ idleExitMs: 0, busy: () => false, onIdle });
    const w = watchIdle({ idleExitMs: 500, busy: () => false, onIdle, checkEveryMs: 100 });
    w.stop();
    vi.advanceTimersByTime(10_000);
    expect(onIdle).not.toHaveBeenCalled();
  });
});
