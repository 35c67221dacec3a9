/** LayersAhead: opening the layers above a mount ahead, bounded, handed only to the matching mount. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { MountRequest } from '../../../../../backends/stargz-lazy/protocol/control-protocol.js';
import { LayersAhead } from '../../../../../backends/stargz-lazy/fused/layers-ahead.js';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;
const REF = '127.0.0.1:5000/app:esgz';

interface FakeLayer {
  digest: string;
  tocDigest: string;
}

function setup(o: { ahead?: number; ttlMs?: number; fail?: Set<string> } = {}) {
  const opened: string[] = [];
  const aborted: string[] = [];
  const taken: string[] = [];
  const urgent: string[] = [];
  const ahead = new LayersAhead<FakeLayer>({
    open: async (r: MountRequest, signal: AbortSignal, whenTaken: Promise<void>, isUrgent: boolean) => {
      opened.push(r.digest);
      if (isUrgent) urgent.push(`${r.digest} ${r.tocDigest ?? ''}`);
      void whenTaken.then(() => taken.push(r.digest));
      signal.addEventListener('abort', () => aborted.push(r.digest));
      if (o.fail?.has(r.digest)) throw new Error('registry down');
      return { digest: r.digest, tocDigest: `toc-of-${r.digest}` };
    },
    tocDigestOf: (l) => l.tocDigest,
    log: pino({ level: 'silent' }),
    ahead: o.ahead ?? 2,
    ttlMs: o.ttlMs ?? 60_000,
  });
  return { ahead, opened, aborted, taken, urgent };
}

const mountOf = (digest: string, following: number[] = [], tocDigest?: string): MountRequest => ({
  mountpoint: '/mnt/x',
  reference: REF,
  digest,
  ...(tocDigest ? { tocDigest } : {}),
  following: following.map((n) => ({ digest: d(n) })),
});

describe('LayersAhead', () => {
  it('opens the next layers (at most `ahead`), skipping those already served, and hands each to its mount once', async () => {
    const { ahead, opened } = setup({ ahead: 2 });
    ahead.start(mountOf(d(1), [2, 3, 4, 5]), (digest) => digest === d(2));
    expect(opened).toEqual([d(3), d(4)]);
    expect(ahead.size).toBe(2);
    expect(await ahead.take(mountOf(d(3), [], `toc-of-${d(3)}`))).toEqual({ digest: d(3), tocDigest: `toc-of-${d(3)}` });
    expect(await ahead.take(mountOf(d(3)))).toBeUndefined(); // taken already
    expect(ahead.size).toBe(1);
  });

  it('tells an open that a mount took its layer (then it is no longer work ahead), and only then', async () => {
    const { ahead, taken } = setup({ ahead: 2 });
    ahead.start(mountOf(d(1), [2, 3]), () => false);
    await new Promise((r) => setImmediate(r));
    expect(taken).toEqual([]);
    await ahead.take(mountOf(d(3)));
    expect(taken).toEqual([d(3)]);
  });

  it('first(): the layer itself (urgent, with its TOC digest), then the ones above; none of them twice', async () => {
    const { ahead, opened, urgent } = setup({ ahead: 3 });
    ahead.first(mountOf(d(1), [2, 3], `toc-of-${d(1)}`), () => false);
    expect(opened).toEqual([d(1), d(2), d(3)]);
    expect(urgent).toEqual([`${d(1)} toc-of-${d(1)}`]);
    ahead.start(mountOf(d(1), [2, 3]), () => false);
    expect(opened).toHaveLength(3);
    expect(await ahead.take(mountOf(d(1), [], `toc-of-${d(1)}`))).toEqual({ digest: d(1), tocDigest: `toc-of-${d(1)}` });
  });

  it('first() skips a layer already served but still opens the ones above', () => {
    const { ahead, opened } = setup({ ahead: 3 });
    ahead.first(mountOf(d(1), [2]), (digest) => digest === d(1));
    expect(opened).toEqual([d(2)]);
  });

  it('does not hand out a layer whose TOC digest is not the one the mount expects, nor one of another reference', async () => {
    const { ahead } = setup();
    ahead.start(mountOf(d(1), [2, 3]), () => false);
    expect(await ahead.take(mountOf(d(2), [], 'sha256:other'))).toBeUndefined();
    expect(await ahead.take({ ...mountOf(d(3)), reference: '127.0.0.1:5000/other:esgz' })).toBeUndefined();
  });

  it('a failed open ahead is a miss, not an error', async () => {
    const { ahead } = setup({ fail: new Set([d(2)]) });
    ahead.start(mountOf(d(1), [2]), () => false);
    await expect(ahead.take(mountOf(d(2)))).resolves.toBeUndefined();
  });

  it('slides its window up the image: the next layers stay held, and what falls out of it is dropped', async () => {
    const { ahead, opened, aborted } = setup({ ahead: 2 });
    ahead.start(mountOf(d(1), [2, 3, 4, 5]), () => false);
    expect(await ahead.take(mountOf(d(2)))).toBeDefined();
    ahead.start(mountOf(d(2), [3, 4, 5]), (digest) => digest === d(1) || digest === d(2));
    expect(opened).toEqual([d(2), d(3), d(4)]); // 3 was held already
    expect(aborted).toEqual([]);
    expect(await ahead.take(mountOf(d(3)))).toBeDefined();
  });

  it('keeps at most `ahead` layers (the oldest is dropped and its open aborted), and drops them after the TTL', async () => {
    const { ahead, aborted } = setup({ ahead: 2, ttlMs: 50 });
    ahead.start(mountOf(d(1), [2, 3]), () => false);
    ahead.start(mountOf(d(9), [4]), () => false); // another image's pull
    expect(ahead.size).toBe(2);
    expect(aborted).toEqual([d(2)]);
    await new Promise((r) => setTimeout(r, 120));
    expect(ahead.size).toBe(0);
    expect(aborted.sort()).toEqual([d(2), d(3), d(4)]);
  });

  it('clear() drops everything', () => {
    const { ahead, aborted } = setup();
    ahead.start(mountOf(d(1), [2, 3]), () => false);
    ahead.clear();
    expect(ahead.size).toBe(0);
    expect(aborted).toEqual([d(2), d(3)]);
  });
});
