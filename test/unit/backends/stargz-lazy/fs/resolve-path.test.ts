import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { resolvePath } from '../../../../../backends/stargz-lazy/fs/resolve-path.js';

let index: LayerIndex;
beforeAll(async () => {
  const blob = await readFile(new URL('../../../../fixtures/estargz/full.estargz', import.meta.url));
  ({ index } = await openLayer({ size: blob.length, read: async (o, l) => blob.subarray(o, o + l) }));
});

describe('resolvePath', () => {
  it('finds the root, nested entries and hard links', () => {
    expect(resolvePath(index, '/')).toEqual({ node: index.root, whiteout: false });
    expect(resolvePath(index, '/deep/er/file.txt')?.node.path).toBe('deep/er/file.txt');
    expect(resolvePath(index, '/data/hard-to-small')?.node).toBe(index.lookup('data/small.txt'));
  });

  it('finds whiteouts under the name they delete, only as the last component', () => {
    const r = resolvePath(index, '/removed-file');
    expect(r?.whiteout).toBe(true);
    expect(r?.node.path).toBe('.wh.removed-file');
    expect(resolvePath(index, '/removed-file/x')).toBeUndefined();
    expect(resolvePath(index, '/.wh.removed-file')).toBeUndefined();
  });

  it('refuses what a kernel path never holds and what is missing', () => {
    for (const p of ['/data/../etc', '/./data', '//data', '/missing', '/etc/hostname/x']) expect(resolvePath(index, p)).toBeUndefined();
  });
});
