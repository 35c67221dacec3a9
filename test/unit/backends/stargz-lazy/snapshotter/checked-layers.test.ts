/** CheckedLayers: a passed check holds for a short while, only through the same, still attached client. */
import { describe, expect, it } from 'vitest';
import { CheckedLayers } from '../../../../../backends/stargz-lazy/snapshotter/checked-layers.js';

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('CheckedLayers', () => {
  it('holds for every noted layer within the TTL, through the client that answered', () => {
    const c = clock();
    const checked = new CheckedLayers(1_000, c.now);
    const client = { attached: true };
    checked.note(['/r/1/fs', '/r/2/fs'], client);
    expect(checked.holds(['/r/1/fs', '/r/2/fs'], client)).toBe(true);
    expect(checked.holds(['/r/2/fs'], client)).toBe(true);
    expect(checked.holds(['/r/1/fs', '/r/3/fs'], client)).toBe(false); // one never checked
    c.advance(1_001);
    expect(checked.holds(['/r/1/fs'], client)).toBe(false);
  });

  it('does not hold through another client, one no longer attached, or one that cannot say', () => {
    const checked = new CheckedLayers(1_000, clock().now);
    const client = { attached: true };
    checked.note(['/r/1/fs'], client);
    expect(checked.holds(['/r/1/fs'], { attached: true })).toBe(false);
    expect(checked.holds(['/r/1/fs'], undefined)).toBe(false);
    client.attached = false; // the process stopped or died
    expect(checked.holds(['/r/1/fs'], client)).toBe(false);
    const unknown = {};
    checked.note(['/r/2/fs'], unknown);
    expect(checked.holds(['/r/2/fs'], unknown)).toBe(false);
  });

  it('forgets a layer being unmounted; an empty list never holds', () => {
    const checked = new CheckedLayers(1_000, clock().now);
    const client = { attached: true };
    checked.note(['/r/1/fs'], client);
    checked.forget('/r/1/fs');
    expect(checked.holds(['/r/1/fs'], client)).toBe(false);
    expect(checked.holds([], client)).toBe(false);
  });

  it('stays bounded: expired entries go first when it is full', () => {
    const c = clock();
    const checked = new CheckedLayers(1_000, c.now);
    const client = { attached: true };
    for (let i = 0; i < 5_000; i++) checked.note([`/r/${i}/fs`], client);
    c.advance(2_000);
    checked.note(['/r/new/fs'], client);
    expect(checked.holds(['/r/new/fs'], client)).toBe(true);
  });
});
