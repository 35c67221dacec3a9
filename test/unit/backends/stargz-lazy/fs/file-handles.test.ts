import { describe, expect, it } from 'vitest';
import type { LayerNode } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { FileHandles } from '../../../../../backends/stargz-lazy/fs/file-handles.js';

describe('FileHandles', () => {
  it('hands out distinct numbers from 1 and forgets released ones', () => {
    const h = new FileHandles();
    const a = { ino: 1 } as LayerNode;
    const b = { ino: 2 } as LayerNode;
    const fa = h.add(a);
    const fb = h.add(b);
    expect(fa).toBe(1);
    expect(fb).toBe(2);
    expect(h.get(fa)).toBe(a);
    expect(h.delete(fa)).toBe(true);
    expect(h.delete(fa)).toBe(false);
    expect(h.get(fa)).toBeUndefined();
    expect(h.size).toBe(1);
    expect(h.add(a)).toBe(3);
  });
});
