/** The keeper's table of kept /dev/fuse duplicates (kept-connections.ts): every descriptor is closed exactly once. */
import { describe, expect, it } from 'vitest';
import { KeptConnections } from '../../../../../../backends/stargz-lazy/fuse-kernel/keeper/kept-connections.js';

describe('KeptConnections', () => {
  it('keeps by id, closes a replaced descriptor, a released one and the rest at the end', () => {
    const closed: number[] = [];
    const k = new KeptConnections((fd) => closed.push(fd));
    k.keep('/m/a', 10, { digest: 'a' });
    k.keep('/m/b', 11, { digest: 'b' });
    k.keep('/m/a', 12, { digest: 'a2' }); // remounted: the old duplicate goes
    expect(closed).toEqual([10]);
    expect(k.list()).toEqual([
      { id: '/m/a', fd: 12, state: { digest: 'a2' } },
      { id: '/m/b', fd: 11, state: { digest: 'b' } },
    ]);
    expect(k.release('/m/b')).toBe(true);
    expect(k.release('/m/b')).toBe(false);
    expect(closed).toEqual([10, 11]);
    k.closeAll();
    expect(closed).toEqual([10, 11, 12]);
    expect(k.size).toBe(0);
  });
});
