/** LruIndex: sizes, total bytes and recency order. */
import { describe, expect, it } from 'vitest';
import { LruIndex } from '../../../../../backends/stargz-lazy/cache/lru-index.js';

describe('LruIndex', () => {
  it('counts bytes and yields least recently used first; touch and re-add move to the end', () => {
    const ix = new LruIndex();
    ix.add('a', 1);
    ix.add('b', 10);
    ix.add('c', 100);
    expect(ix.bytes).toBe(111);
    expect(ix.touch('a')).toBe(true);
    expect(ix.touch('zz')).toBe(false);
    expect([...ix.oldestFirst()].map(([d]) => d)).toEqual(['b', 'c', 'a']);
    ix.add('b', 20); // a new size replaces the old one
    expect(ix.bytes).toBe(121);
    expect([...ix.oldestFirst()]).toEqual([['c', 100], ['a', 1], ['b', 20]]);
    expect(ix.delete('c')).toBe(100);
    expect(ix.delete('c')).toBeUndefined();
    expect(ix).toMatchObject({ bytes: 21, size: 2 });
    expect(ix.has('a') && !ix.has('c')).toBe(true);
    expect(ix.sizeOf('b')).toBe(20);
  });
});
