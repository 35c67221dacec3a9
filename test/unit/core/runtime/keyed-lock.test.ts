import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../../../core/runtime/keyed-lock.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedLock', () => {
  it('runs callbacks of one key one at a time in order, other keys concurrently, and forgets idle keys', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const job = (key: string, id: string, fail = false) =>
      lock.run(key, async () => {
        log.push(`${id}+`);
        await tick();
        log.push(`${id}-`);
        if (fail) throw new Error(id);
        return id;
      });
    const results = await Promise.allSettled([job('a', 'a1', true), job('a', 'a2'), job('b', 'b1')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(log.indexOf('a2+')).toBeGreaterThan(log.indexOf('a1-')); // a failure does not break the chain
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-')); // another key is not held up
    await tick();
    expect(lock.size).toBe(0);
  });
});
