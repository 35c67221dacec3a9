import { describe, expect, it } from 'vitest';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { MAX_NODES, ReadNodes } from '../../../../../backends/stargz-lazy/fs/read-nodes.js';
import { makeWarmUpBlob } from '../../../../../backends/stargz-lazy/fused/warm-up-blob.js';

describe('ReadNodes', () => {
  it('gives the regular file of an inode handle, the same node while held, at most MAX_NODES held', async () => {
    const blob = makeWarmUpBlob(4, MAX_NODES);
    const { index } = await openLayer({ size: blob.bytes.length, read: async (o, l) => blob.bytes.subarray(o, o + l) });
    const nodes = new ReadNodes(index);
    const first = index.lookup(blob.files[0]!)!;
    expect(nodes.get(first.ino)).toBe(first);
    expect(nodes.get(first.ino)).toBe(nodes.get(first.ino));
    for (const f of blob.files) expect(nodes.get(index.lookup(f)!.ino)!.path).toBe(f);
    expect(nodes.size).toBe(MAX_NODES);
    for (const bad of [0, -1, 1.5, index.lookup('warm')!.ino, index.lookup('warm/link')!.ino, index.size + 1, 2 ** 32]) expect(nodes.get(bad), String(bad)).toBeUndefined();
    expect(nodes.size).toBe(MAX_NODES);
  });
});
