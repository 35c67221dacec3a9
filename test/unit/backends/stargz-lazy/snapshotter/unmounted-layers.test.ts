/**
 * UnmountedLayers: which layers the FUSE-serving process keeps after this client unmounted them
 * (no open hint is sent for those). Bounded in count and time, one prepare per unmount, only
 * through the client that unmounted while it is attached; a failed or unknown mount counts
 * for nothing.
 */
import { describe, expect, it } from 'vitest';
import { UnmountedLayers } from '../../../../../backends/stargz-lazy/snapshotter/unmounted-layers.js';

const layer = (n: number) => ({ reference: '127.0.0.1:1/img:esgz', digest: `sha256:${String(n).padStart(64, '0')}` });
const mp = (n: number) => `/root/snapshots/${n}/fs`;

function setup(o: { ttlMs?: number; max?: number } = {}) {
  let t = 0;
  const by = { attached: true };
  const u = new UnmountedLayers({ ttlMs: o.ttlMs ?? 1_000, max: o.max ?? 16, now: () => t });
  return { u, by, advance: (ms: number) => (t += ms) };
}

describe('UnmountedLayers', () => {
  it('a layer this client mounted and then unmounted counts as kept, for one prepare', () => {
    const { u, by } = setup();
    u.mounted(mp(1), layer(1));
    expect(u.take(layer(1), by)).toBe(false); // mounted, not unmounted
    u.unmounted(mp(1), by);
    expect(u.take(layer(1), by)).toBe(true);
    expect(u.take(layer(1), by)).toBe(false); // the process hands a kept layer to one mount
  });

  it('not after ttlMs, not through another client, not once the process ended the attachment', () => {
    const a = setup({ ttlMs: 1_000 });
    a.u.mounted(mp(1), layer(1));
    a.u.unmounted(mp(1), a.by);
    a.advance(1_001);
    expect(a.u.take(layer(1), a.by)).toBe(false);

    const b = setup();
    b.u.mounted(mp(1), layer(1));
    b.u.unmounted(mp(1), b.by);
    expect(b.u.take(layer(1), { attached: true })).toBe(false);
    expect(b.u.take(layer(1), undefined)).toBe(false);

    const c = setup();
    c.u.mounted(mp(1), layer(1));
    c.u.unmounted(mp(1), c.by);
    c.by.attached = false;
    expect(c.u.take(layer(1), c.by)).toBe(false);

    const d = setup(); // unmounted through a client that was no longer attached: the process may be gone
    d.u.mounted(mp(1), layer(1));
    d.u.unmounted(mp(1), { attached: false });
    expect(d.u.take(layer(1), d.by)).toBe(false);
  });

  it('a mount that failed or was forgotten, or one it never made, counts for nothing', () => {
    const { u, by } = setup();
    u.mounted(mp(1), layer(1));
    u.forget(mp(1));
    u.unmounted(mp(1), by);
    u.unmounted(mp(2), by); // never mounted through this client
    expect(u.take(layer(1), by)).toBe(false);
    expect(u.take(layer(2), by)).toBe(false);
  });

  it('holds at most `max` unmounted layers, the oldest going first, and at most 4096 mounts', () => {
    const { u, by } = setup({ max: 3 });
    for (let i = 1; i <= 5; i++) {
      u.mounted(mp(i), layer(i));
      u.unmounted(mp(i), by);
    }
    expect([1, 2, 3, 4, 5].map((i) => u.take(layer(i), by))).toEqual([false, false, true, true, true]);

    const big = setup({ max: 16 });
    for (let i = 0; i < 4096 + 10; i++) big.u.mounted(mp(i), layer(i));
    big.u.unmounted(mp(0), big.by); // pushed out by the 4096 mounts after it
    big.u.unmounted(mp(4096 + 9), big.by);
    expect(big.u.take(layer(0), big.by)).toBe(false);
    expect(big.u.take(layer(4096 + 9), big.by)).toBe(true);
  });

  it('max 0 remembers nothing', () => {
    const { u, by } = setup({ max: 0 });
    u.mounted(mp(1), layer(1));
    u.unmounted(mp(1), by);
    expect(u.take(layer(1), by)).toBe(false);
  });
});
