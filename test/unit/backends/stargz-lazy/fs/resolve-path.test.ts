import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { MAX_DIR_CHARS, MAX_DIRS, PathResolver } from '../../../../../backends/stargz-lazy/fs/resolve-path.js';
import { makeWarmUpBlob } from '../../../../../backends/stargz-lazy/fused/warm-up-blob.js';

let index: LayerIndex;
beforeAll(async () => {
  const blob = await readFile(new URL('../../../../fixtures/estargz/full.estargz', import.meta.url));
  ({ index } = await openLayer({ size: blob.length, read: async (o, l) => blob.subarray(o, o + l) }));
});

const inoOf = (path: string) => index.lookup(path)!.ino;

describe('PathResolver', () => {
  it('finds the root, nested entries and hard links', () => {
    const paths = new PathResolver(index.tree);
    expect(paths.resolve('/')).toBe(1);
    expect(paths.resolve('')).toBe(1);
    expect(paths.resolve('/deep/er/file.txt')).toBe(inoOf('deep/er/file.txt'));
    expect(paths.resolve('/data/hard-to-small')).toBe(inoOf('data/small.txt'));
    expect(paths.resolve('/data')).toBe(inoOf('data'));
  });

  it('finds whiteouts under the name they delete, only as the last component', () => {
    const paths = new PathResolver(index.tree);
    const r = paths.resolve('/removed-file');
    expect(r).toBeLessThan(0);
    expect(index.byIno(-r)!.path).toBe('.wh.removed-file');
    expect(paths.resolve('/removed-file/x')).toBe(0);
    expect(paths.resolve('/.wh.removed-file')).toBe(0);
  });

  it('refuses what a kernel path never holds and what is missing, with a cold and a warm cache alike', () => {
    const bad = ['/data/../etc', '/./data', '//data', '/data/', '/data//small.txt', '/missing', '/etc/hostname/x', '/missing/x', '/data/.', '/data/..'];
    const paths = new PathResolver(index.tree);
    for (let round = 0; round < 2; round++) for (const p of bad) expect(paths.resolve(p), `${p} (round ${round})`).toBe(0);
    // The same answers through directories remembered by an earlier lookup.
    paths.resolve('/data/small.txt');
    paths.resolve('/etc/hostname');
    for (const p of bad) expect(paths.resolve(p), p).toBe(0);
  });

  it('answers 0 for hostile paths (names longer than any TOC holds, thousands of components, odd code points) and remembers only real directories', () => {
    const paths = new PathResolver(index.tree);
    const hostile = [`/${'x'.repeat(5000)}`, `/data/${'é'.repeat(1500)}`, `/${'data/'.repeat(2000)}small.txt`, '/data/small.txt\0', '/\ud800', `/${'a/'.repeat(3000)}`];
    for (const p of hostile) expect(paths.resolve(p), p.slice(0, 40)).toBe(0);
    expect(paths.cachedDirs).toBe(1); // /data, the parent of the long name
    expect(paths.resolve('/data/small.txt')).toBe(inoOf('data/small.txt'));
  });

  it('answers every path of a layer as the index does, whatever the order (cache or not)', () => {
    const paths = new PathResolver(index.tree);
    const all = [...index.nodes()].filter((n) => n.path !== '' && !n.path.split('/').at(-1)!.startsWith('.wh.'));
    for (const order of [all, [...all].reverse()]) for (const n of order) expect(paths.resolve(`/${n.path}`), n.path).toBe(index.lookup(n.path)!.ino);
  });

  it('remembers at most MAX_DIRS directories, none with a path longer than MAX_DIR_CHARS (a layer never changes: no invalidation)', async () => {
    const blob = makeWarmUpBlob(MAX_DIRS + 50, 2);
    const { index: big } = await openLayer({ size: blob.bytes.length, read: async (o, l) => blob.bytes.subarray(o, o + l) });
    const paths = new PathResolver(big.tree);
    for (const f of blob.files) expect(paths.resolve(`/${f}`), f).toBe(big.lookup(f)!.ino);
    expect(paths.cachedDirs).toBe(MAX_DIRS);
    // Evicted directories still resolve (walked again).
    for (const f of blob.files.slice(0, 10)) expect(paths.resolve(`/${f}`)).toBe(big.lookup(f)!.ino);
    expect(paths.cachedDirs).toBe(MAX_DIRS);
    expect(MAX_DIRS * MAX_DIR_CHARS).toBeLessThanOrEqual(256 * 512);
  });
});
