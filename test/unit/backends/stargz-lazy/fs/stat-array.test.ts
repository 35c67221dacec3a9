/** The stat arrays written from the packed tree carry exactly what `statOf` / `whiteoutStatOf` describe, for every node. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { statOf, whiteoutStatOf } from '../../../../../backends/stargz-lazy/fs/node-stat.js';
import { STAT_SLOTS, statArray } from '../../../../../backends/stargz-lazy/fs/stat-array.js';

/** fuse-native's own conversion (index.js getStatArray), restated: the layout its native side reads. */
function fuseNativeArray(stat: ReturnType<typeof statOf>): Uint32Array {
  const ints = new Uint32Array(STAT_SLOTS);
  const put = (at: number, n: number) => {
    ints[at] = n % 4294967296;
    ints[at + 1] = (n - ints[at]!) / 4294967296;
  };
  ints[0] = stat.mode;
  ints[1] = stat.uid;
  ints[2] = stat.gid;
  put(3, stat.size);
  ints[5] = 0;
  ints[6] = stat.nlink || 1;
  ints[7] = stat.ino;
  ints[8] = stat.rdev;
  ints[9] = stat.blksize;
  put(10, stat.blocks);
  put(12, stat.atime as number);
  put(14, stat.mtime as number);
  put(16, stat.ctime as number);
  return ints;
}

describe('statArray', () => {
  for (const fixture of ['full.estargz', 'plain.estargz']) {
    it(`equals fuse-native's array of statOf / whiteoutStatOf for every node of ${fixture}`, async () => {
      const url = new URL(`../../../../fixtures/estargz/${fixture}`, import.meta.url);
      const blob = await readFile(url);
      const { index } = await openLayer({ size: blob.length, read: async (o, l) => blob.subarray(o, o + l) });
      let n = 0;
      for (const node of index.nodes()) {
        expect(statArray(index.tree, node.ino, false), node.path).toEqual(fuseNativeArray(statOf(node)));
        expect(statArray(index.tree, node.ino, true), node.path).toEqual(fuseNativeArray(whiteoutStatOf(node)));
        n++;
      }
      expect(n).toBe(index.size);
    });
  }
});
