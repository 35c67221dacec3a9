import { describe, expect, it } from 'vitest';
import { MountpointQueue } from '../../../../../backends/stargz-lazy/fused/mountpoint-queue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('MountpointQueue', () => {
  it('runs operations on one mountpoint one after the other, a failure not stopping the next', async () => {
    const q = new MountpointQueue();
    const order: string[] = [];
    let release!: () => void;
    const first = q.run('/a', async () => {
      order.push('first start');
      await new Promise<void>((r) => (release = r));
      order.push('first end');
      throw new Error('first failed');
    });
    const second = q.run('/a', async () => {
      order.push('second');
      return 2;
    });
    const other = q.run('/b', async () => {
      order.push('other mountpoint');
      return 'b';
    });
    await tick();
    expect(order).toEqual(['first start', 'other mountpoint']);
    release();
    await expect(first).rejects.toThrow('first failed');
    expect(await second).toBe(2);
    expect(await other).toBe('b');
    expect(order).toEqual(['first start', 'other mountpoint', 'first end', 'second']);
  });
});
