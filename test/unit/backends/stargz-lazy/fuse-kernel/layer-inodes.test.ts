/**
 * The kernel transport's metadata by node id, from the fixture layers: the attributes equal
 * fuse-native's (statOf / whiteoutStatOf) for every node except times in nanoseconds and a
 * 64-bit inode; lookups of children and whiteouts, listings by index, symlinks, xattrs.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { EINVAL, ENODATA, ENOENT, ENOTDIR } from '../../../../../backends/stargz-lazy/fs/errno.js';
import { S_IFCHR, S_IFDIR, statOf, whiteoutStatOf } from '../../../../../backends/stargz-lazy/fs/node-stat.js';
import { OPAQUE_XATTR } from '../../../../../backends/stargz-lazy/fs/xattrs.js';
import { attrOf } from '../../../../../backends/stargz-lazy/fuse-kernel/kernel-attr.js';
import { LayerInodes, type Entry } from '../../../../../backends/stargz-lazy/fuse-kernel/layer-inodes.js';
import { nodeIdOf, nodeOf, WHITEOUT_BIT } from '../../../../../backends/stargz-lazy/fuse-kernel/node-ids.js';
import { buildBlob } from '../estargz/make-blob.js';

async function indexOf(blob: Buffer): Promise<LayerIndex> {
  return (await openLayer({ size: blob.length, read: async (o, l) => blob.subarray(o, o + l) })).index;
}

let full: LayerIndex;
let inodes: LayerInodes;
beforeAll(async () => {
  full = await indexOf(await readFile(new URL('../../../../fixtures/estargz/full.estargz', import.meta.url)));
  inodes = new LayerInodes(full.tree);
});

/** Walks `path` from the root by LOOKUP. */
function walk(path: string): Entry | number {
  let e: Entry | number = { nodeid: 1n, attr: inodes.getattr(1n) as never };
  for (const name of path.split('/')) {
    if (typeof e === 'number') return e;
    e = inodes.lookup(e.nodeid, name);
  }
  return e;
}

describe('attrOf', () => {
  for (const fixture of ['full.estargz', 'plain.estargz']) {
    it(`equals statOf / whiteoutStatOf for every node of ${fixture}, with ns times and a bigint inode`, async () => {
      const index = await indexOf(await readFile(new URL(`../../../../fixtures/estargz/${fixture}`, import.meta.url)));
      let n = 0;
      for (const node of index.nodes()) {
        for (const whiteout of [false, true]) {
          const want = whiteout ? whiteoutStatOf(node) : statOf(node);
          const a = attrOf(index.tree, node.ino, whiteout);
          expect({ mode: a.mode, uid: a.uid, gid: a.gid, size: a.size, nlink: a.nlink, ino: Number(a.ino), rdev: a.rdev, blksize: a.blksize, blocks: a.blocks }, node.path).toEqual({
            mode: want.mode, uid: want.uid, gid: want.gid, size: want.size, nlink: want.nlink, ino: want.ino, rdev: want.rdev, blksize: want.blksize, blocks: want.blocks,
          });
          expect(a.mtimeNs).toBe(node.mtimeNs > 0n ? node.mtimeNs : 0n);
          expect(Number(a.mtimeNs / 1_000_000n)).toBe(want.mtime);
          expect(a.atimeNs).toBe(a.mtimeNs);
          expect(a.ctimeNs).toBe(a.mtimeNs);
        }
        n++;
      }
      expect(n).toBeGreaterThan(5);
    });
  }

  it('keeps the nanoseconds of a TOC modtime', async () => {
    const { blob } = buildBlob([{ name: 'f', data: Buffer.from('x'), entry: { modtime: '2024-05-17T10:30:43.123456789Z' } }]);
    const index = await indexOf(blob);
    const f = new LayerInodes(index.tree).lookup(1n, 'f') as Entry;
    expect(f.attr.mtimeNs).toBe(1_715_941_843_123_456_789n);
  });
});

describe('node ids', () => {
  it('are the tree inodes, whiteouts with bit 32, and refuse what names no node', () => {
    expect(nodeIdOf(7, false)).toBe(7n);
    expect(nodeIdOf(7, true)).toBe(BigInt(WHITEOUT_BIT + 7));
    expect(nodeOf(BigInt(WHITEOUT_BIT + 7), 10)).toEqual({ ino: 7, whiteout: true });
    for (const bad of [0n, 10n, -1n, BigInt(WHITEOUT_BIT), BigInt(WHITEOUT_BIT + 10), 1n << 63n]) expect(nodeOf(bad, 10)).toBeUndefined();
    expect(inodes.getattr(1n << 40n)).toBe(ENOENT);
  });
});

describe('LayerInodes', () => {
  it('looks up names, hard links to one node id, a whiteout as a 0:0 char device under the deleted name', () => {
    const small = walk('data/small.txt') as Entry;
    const hard = walk('data/hard-to-small') as Entry;
    expect(hard.nodeid).toBe(small.nodeid);
    expect(small.attr.size).toBe(140);
    const wh = walk('removed-file') as Entry;
    expect(wh.nodeid >= BigInt(WHITEOUT_BIT)).toBe(true);
    expect(wh.attr).toMatchObject({ mode: S_IFCHR, rdev: 0, uid: 0, gid: 0, size: 0 });
    expect(inodes.getattr(wh.nodeid)).toEqual(wh.attr);
    expect(walk('.wh.removed-file')).toBe(ENOENT);
    expect(walk('opaque/.wh..wh..opq')).toBe(ENOENT);
    expect(walk('nothing')).toBe(ENOENT);
    expect(inodes.lookup(small.nodeid, 'x')).toBe(ENOTDIR);
    expect(inodes.lookup(wh.nodeid, 'x')).toBe(ENOTDIR);
    expect((walk('deep/er/file.txt') as Entry).attr.size).toBe(16);
  });

  it('lists . and .., the children in TOC order, then the whiteouts, by index', () => {
    const names: string[] = [];
    for (let i = 0; ; i++) {
      const e = inodes.entryAt(1n, i);
      if (!e) break;
      names.push(e.name);
      if (i < 2) expect(e.nodeid).toBe(1n);
    }
    expect(names.slice(0, 2)).toEqual(['.', '..']);
    expect(names.at(-1)).toBe('removed-file');
    expect(names).toEqual(expect.arrayContaining(['bin', 'etc', 'data', 'dev', 'opaque', 'deep']));
    const data = walk('data') as Entry;
    expect(inodes.entryAt(data.nodeid, 1)!.nodeid).toBe(1n);
    expect(inodes.entryAt(data.nodeid, 1)!.attr.mode & S_IFDIR).toBe(S_IFDIR);
    expect(inodes.entryAt(data.nodeid, 1000)).toBeUndefined();
    expect(inodes.entryAt(data.nodeid, -1)).toBeUndefined();
    expect(inodes.checkDir(data.nodeid)).toBe(0);
    expect(inodes.checkDir((walk('data/small.txt') as Entry).nodeid)).toBe(ENOTDIR);
  });

  it('answers symlinks, xattrs and the opaque marker', () => {
    expect(inodes.readlink((walk('data/link-to-small') as Entry).nodeid)).toBe('small.txt');
    expect(inodes.readlink((walk('data/small.txt') as Entry).nodeid)).toBe(EINVAL);
    const x = (walk('data/xattr.txt') as Entry).nodeid;
    expect(String(inodes.listxattr(x))).toBe('trusted.overlay.origin\0user.fixture\0');
    expect(inodes.getxattr(x, 'user.none')).toBe(ENODATA);
    expect(Buffer.isBuffer(inodes.getxattr(x, 'user.fixture'))).toBe(true);
    const opaque = (walk('opaque') as Entry).nodeid;
    expect(String(inodes.getxattr(opaque, OPAQUE_XATTR))).toBe('y');
    expect(String(inodes.listxattr((walk('removed-file') as Entry).nodeid))).toBe('');
  });
});
