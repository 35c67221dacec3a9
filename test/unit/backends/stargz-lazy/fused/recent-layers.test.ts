/** Layers kept after their unmount: handed to one matching mount, bounded in number and time. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RecentLayers } from '../../../../../backends/stargz-lazy/fused/recent-layers.js';
import type { MountRequest } from '../../../../../backends/stargz-lazy/protocol/control-protocol.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const req = (digest: string, tocDigest?: string): MountRequest => ({
  mountpoint: '/x',
  reference: 'r:5000/app:esgz',
  digest,
  ...(tocDigest ? { tocDigest } : {}),
});
const layer = (name: string, tocDigest = D('f')) => ({ name, tocDigest });

afterEach(() => {
  vi.useRealTimers();
});

describe('RecentLayers', () => {
  it('hands a kept layer to one mount of the same reference and digest, and checks the TOC digest', () => {
    const r = new RecentLayers<ReturnType<typeof layer>>({ tocDigestOf: (l) => l.tocDigest, max: 4, ttlMs: 60_000 });
    r.put(req(D('a')), layer('a'));
    expect(r.has('r:5000/app:esgz', D('a'))).toBe(true);
    expect(r.take({ ...req(D('a')), reference: 'r:5000/other:esgz' })).toBeUndefined();
    expect(r.take(req(D('a')))?.name).toBe('a');
    expect(r.take(req(D('a')))).toBeUndefined();

    r.put(req(D('b')), layer('b', D('e')));
    expect(r.take(req(D('b'), D('f')))).toBeUndefined();
    expect(r.size).toBe(0);
  });

  it('keeps at most max layers, oldest out first, each for at most ttlMs', () => {
    vi.useFakeTimers();
    const r = new RecentLayers<ReturnType<typeof layer>>({ tocDigestOf: (l) => l.tocDigest, max: 2, ttlMs: 1_000 });
    r.put(req(D('a')), layer('a'));
    r.put(req(D('b')), layer('b'));
    r.put(req(D('c')), layer('c'));
    expect(r.size).toBe(2);
    expect(r.take(req(D('a')))).toBeUndefined();
    vi.advanceTimersByTime(1_000);
    expect(r.size).toBe(0);
    expect(r.take(req(D('b')))).toBeUndefined();
  });

  it('keeps nothing with max 0, and clear forgets everything', () => {
    const none = new RecentLayers<ReturnType<typeof layer>>({ tocDigestOf: (l) => l.tocDigest, max: 0, ttlMs: 1_000 });
    none.put(req(D('a')), layer('a'));
    expect(none.size).toBe(0);
    const r = new RecentLayers<ReturnType<typeof layer>>({ tocDigestOf: (l) => l.tocDigest, max: 2, ttlMs: 60_000 });
    r.put(req(D('a')), layer('a'));
    r.clear();
    expect(r.size).toBe(0);
  });
});
