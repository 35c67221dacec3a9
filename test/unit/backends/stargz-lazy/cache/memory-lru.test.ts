import { describe, expect, it } from 'vitest';
import { MemoryLru } from '../../../../../backends/stargz-lazy/cache/memory-lru.js';

describe('MemoryLru', () => {
  it('keeps the held bytes within the budget, dropping the least recently used first', () => {
    const lru = new MemoryLru(100);
    lru.set('a', Buffer.alloc(40));
    lru.set('b', Buffer.alloc(40));
    expect(lru.get('a')).toBeDefined(); // a is now the most recent
    lru.set('c', Buffer.alloc(40));
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBeDefined();
    expect(lru.get('c')).toBeDefined();
    expect(lru.bytes).toBe(80);
    expect(lru.size).toBe(2);
  });

  it('does not hold an entry larger than the budget, and replaces an entry of the same key', () => {
    const lru = new MemoryLru(10);
    lru.set('big', Buffer.alloc(11));
    expect(lru.get('big')).toBeUndefined();
    expect(lru.bytes).toBe(0);
    lru.set('k', Buffer.alloc(5));
    lru.set('k', Buffer.alloc(7));
    expect(lru.bytes).toBe(7);
    lru.delete('k');
    expect(lru.bytes).toBe(0);
  });

  it('holds nothing with a budget of 0', () => {
    const lru = new MemoryLru(0);
    lru.set('a', Buffer.alloc(1));
    expect(lru.size).toBe(0);
  });
});
