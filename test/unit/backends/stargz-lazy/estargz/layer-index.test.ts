import { describe, expect, it } from 'vitest';
import { EstargzLimitError, MalformedEstargzError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import type { LayerNode } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { checkToc } from '../../../../../backends/stargz-lazy/estargz/toc-schema.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { bufferReader, buildBlob, loadFixture, type RawEntry, type SynthFile } from './make-blob.js';

async function indexOf(name: 'full' | 'plain') {
  const { blob, expected } = loadFixture(name);
  const layer = await openLayer(bufferReader(blob), { expectedTocDigest: expected.tocDigest });
  return { index: layer.index, expected, tocOffset: layer.footer.tocOffset };
}

function index(files: SynthFile[], mutate?: (t: { entries: RawEntry[] }) => void): LayerIndex {
  const built = buildBlob(files, { mutateToc: mutate });
  return LayerIndex.build(checkToc(built.toc), { tocOffset: built.tocOffset });
}

const entriesOnly = (entries: RawEntry[], tocOffset = 1000) =>
  LayerIndex.build(checkToc({ version: 1, entries }), { tocOffset });

const clean = (name: string) => name.replace(/\/$/, '');

describe('LayerIndex on a blob from the upstream writer', () => {
  it('has every tar entry with the attributes the tar had', async () => {
    const { index, expected } = await indexOf('full');
    for (const e of expected.entries) {
      const path = clean(e.name);
      if (path.split('/').pop()!.startsWith('.wh.')) continue;
      const node = index.lookup(path);
      expect(node, path).toBeDefined();
      const n = node!;
      expect(n.type, path).toBe(e.type === 'hardlink' ? 'reg' : e.type);
      expect(n.mtimeNs, path).toBe(BigInt(e.mtime) * 1_000_000_000n);
      if (e.type === 'hardlink') continue; // attributes are the target's
      expect(n.mode, path).toBe(e.mode & 0o7777);
      expect([n.uid, n.gid], path).toEqual([e.uid, e.gid]);
      // The TOC records a name only on the first entry of each id; later ones inherit it.
      if (e.userName) expect([n.userName, n.groupName], path).toEqual([e.userName, e.groupName]);
      if (e.type === 'reg') expect(n.size, path).toBe(e.size);
      if (e.type === 'symlink') expect([n.linkName, n.size], path).toEqual([e.linkName, e.linkName!.length]);
      expect([n.devMajor, n.devMinor], path).toEqual([e.devMajor ?? 0, e.devMinor ?? 0]);
      const xattrs = Object.fromEntries([...n.xattrs].map(([k, v]) => [k, v.toString('base64')]));
      expect(xattrs, path).toEqual(e.xattrs ?? {});
      expect(n.implicit, path).toBe(false);
    }
  });

  it('fills user and group names the writer left out for repeated ids', async () => {
    const { index } = await indexOf('full');
    expect(index.lookup('etc/owned-too.conf')).toMatchObject({ uid: 1000, userName: 'user', groupName: 'staff' });
  });

  it('keeps setuid bits and the binary value of an xattr', async () => {
    const { index } = await indexOf('full');
    expect(index.lookup('bin/tool')!.mode).toBe(0o4755);
    expect([...index.lookup('data/xattr.txt')!.xattrs.get('trusted.overlay.origin')!]).toEqual([
      0, 1, ...Buffer.from('binary'), 0xff,
    ]);
  });

  it('resolves the hard link to the same inode with two names', async () => {
    const { index } = await indexOf('full');
    const a = index.lookup('data/small.txt')!;
    const b = index.lookup('/data/hard-to-small')!;
    expect(b).toBe(a);
    expect(a.nlink).toBe(2);
    expect(index.byIno(a.ino)).toBe(a);
  });

  it('implies missing parent directories', async () => {
    const { index } = await indexOf('full');
    expect(index.lookup('deep')).toMatchObject({ type: 'dir', implicit: true, mode: 0o755, uid: 0, mtimeNs: 0n });
    expect(index.lookup('deep/er')).toMatchObject({ type: 'dir', implicit: true });
    expect(index.lookup('deep/er/file.txt')).toMatchObject({ type: 'reg', size: 16 });
  });

  it('records whiteouts and opaque directories instead of listing them, and hides landmarks', async () => {
    const { index } = await indexOf('full');
    const root = index.root;
    expect([...root.whiteouts.keys()]).toEqual(['removed-file']);
    expect(root.whiteouts.get('removed-file')).toMatchObject({ path: '.wh.removed-file', mode: 0o644 });
    expect(root.children.has('.wh.removed-file')).toBe(false);
    expect(index.lookup('.prefetch.landmark')).toBeUndefined();
    const opaque = index.lookup('opaque')!;
    expect(opaque.opaque).toBe(true);
    expect([...opaque.children.keys()]).toEqual(['kept']);
    expect(index.lookup('etc')!.opaque).toBe(false);
    expect([...root.children.keys()].sort()).toEqual(['bin', 'data', 'deep', 'dev', 'etc', 'opaque']);
    expect([...index.readdir(index.lookup('dev')!).keys()].sort()).toEqual(['fifo', 'loop0', 'null']);
    expect(() => index.readdir(index.lookup('dev/null')!)).toThrow(InvalidArgumentError);
  });

  it('gives every node a distinct inode, the root 1, and counts directory links', async () => {
    const { index } = await indexOf('full');
    expect(index.root.ino).toBe(1);
    const inos = [...index.nodes()].map((n) => n.ino);
    expect(new Set(inos).size).toBe(inos.length);
    expect(inos).toEqual(inos.map((_, i) => i + 1));
    expect(index.root.nlink).toBe(2 + 6);
    expect(index.lookup('dev')!.nlink).toBe(2);
    expect(index.byIno(0)).toBeUndefined();
    expect(index.byIno(index.size + 1)).toBeUndefined();
  });

  it('lists the prioritized files before the prefetch landmark', async () => {
    const { index, expected } = await indexOf('full');
    expect(index.prefetch.landmark).toBe('prefetch');
    expect(index.prefetch.files.map((f) => f.path)).toEqual(expected.prioritized);
    const lastChunk = index.lookup('data/small.txt')!.chunks.at(-1)!;
    expect(index.prefetch.endOffset).toBe(lastChunk.offset + lastChunk.compressedSize);
    const plain = await indexOf('plain');
    expect(plain.index.prefetch).toEqual({ landmark: 'no-prefetch', files: [], endOffset: 0 });
    expect(plain.index.lookup('.no.prefetch.landmark')).toBeUndefined();
  });

  it('lays out the chunks of a big file and answers byte ranges', async () => {
    const { index, tocOffset } = await indexOf('full');
    const big = index.lookup('data/big.bin')!;
    expect(big.chunks.map((c) => [c.chunkOffset, c.chunkSize])).toEqual([
      [0, 4096], [4096, 4096], [8192, 4096], [12288, 4096], [16384, 3616],
    ]);
    for (const c of big.chunks) {
      expect(c.compressedSize).toBeGreaterThan(0);
      expect(c.offset + c.compressedSize).toBeLessThanOrEqual(tocOffset);
      expect(c.innerOffset).toBe(0);
    }
    const at = (off: number, len: number) => index.chunksFor(big, off, len).map((c) => c.chunkOffset);
    expect(at(0, 1)).toEqual([0]);
    expect(at(4095, 2)).toEqual([0, 4096]);
    expect(at(4096, 4096)).toEqual([4096]);
    expect(at(100, 20000)).toEqual([0, 4096, 8192, 12288, 16384]);
    expect(at(19999, 100)).toEqual([16384]);
    expect(at(20000, 10)).toEqual([]);
    expect(at(5000, 0)).toEqual([]);
    expect(index.chunksFor(index.lookup('etc/empty')!, 0, 10)).toEqual([]);
    expect(() => index.chunksFor(index.lookup('etc')!, 0, 1)).toThrow(InvalidArgumentError);
    expect(() => index.chunksFor(big, -1, 1)).toThrow(InvalidArgumentError);
  });

  it('looks up paths the way a caller spells them, and never escapes', async () => {
    const { index } = await indexOf('full');
    expect(index.lookup('')).toBe(index.root);
    expect(index.lookup('/')).toBe(index.root);
    expect(index.lookup('./etc/../etc/hostname')).toBe(index.lookup('etc/hostname'));
    expect(index.lookup('../etc/hostname')).toBeUndefined();
    expect(index.lookup('etc/hostname/x')).toBeUndefined();
    expect(index.lookup('nope')).toBeUndefined();
  });
});

describe('LayerIndex refuses unsafe TOCs', () => {
  it('refuses entries escaping the root', () => {
    expect(() => index([{ name: '../../etc/passwd', data: Buffer.from('root::0:0') }])).toThrow(/escapes the layer root/);
    expect(() => index([{ name: 'a', entry: { type: 'hardlink', linkName: '../../etc/shadow' } }])).toThrow(MalformedEstargzError);
  });

  it('refuses chunks outside the blob before the TOC', () => {
    expect(() =>
      index([{ name: 'f', data: Buffer.from('data') }], (t) => (t.entries[0]!.offset = 10 ** 12)),
    ).toThrow(/not before the TOC/);
    const built = buildBlob([{ name: 'f', data: Buffer.from('data') }]);
    expect(() =>
      LayerIndex.build(checkToc(built.toc), { tocOffset: (built.toc.entries[0]!.offset as number) }),
    ).toThrow(/not before the TOC/);
  });

  it('refuses chunks that do not cover the file exactly', () => {
    const data = Buffer.alloc(100, 7);
    const cases: [string, (t: { entries: RawEntry[] }) => void, RegExp][] = [
      ['gap', (t) => (t.entries[1]!.chunkOffset = 60), /want 50/],
      ['short', (t) => t.entries.pop(), /cover 50 of 100/],
      ['too long', (t) => (t.entries[0]!.chunkSize = 200), /exceeds the file size/],
      ['bigger file', (t) => Object.assign(t.entries[0]!, { size: 150 }, (t.entries[1]!.chunkSize = 50) && {}), /cover 100 of 150/],
      ['orphan chunk', (t) => t.entries.shift(), /must follow/],
      ['no digest', (t) => delete t.entries[1]!.chunkDigest, /cannot be verified/],
      ['overlap', (t) => (t.entries[1]!.offset = t.entries[0]!.offset), /overlaps or precedes/],
      ['backwards', (t) => (t.entries[1]!.offset = 1), /overlaps or precedes/],
    ];
    for (const [label, mutate, message] of cases) {
      expect(() => index([{ name: 'f', data, chunkSize: 50 }], mutate), label).toThrow(message);
    }
    expect(index([{ name: 'f', data, chunkSize: 50 }]).lookup('f')!.chunks).toHaveLength(2);
  });

  it('uses the file digest when a single-chunk file has no chunkDigest', () => {
    const n = index([{ name: 'f', data: Buffer.from('abc') }], (t) => delete t.entries[0]!.chunkDigest).lookup('f')!;
    expect(n.chunks[0]!.chunkDigest).toBe(n.digest);
  });

  it('caps the bytes one chunk may need', () => {
    expect(() =>
      LayerIndex.build(checkToc(buildBlob([{ name: 'f', data: Buffer.alloc(5000) }]).toc), {
        tocOffset: 10 ** 6,
        limits: { maxChunkBytes: 4096 },
      }),
    ).toThrow(EstargzLimitError);
    const built = buildBlob([{ name: 'f', data: Buffer.alloc(10) }]);
    expect(() =>
      LayerIndex.build(checkToc(built.toc), { tocOffset: 10 ** 9, limits: { maxChunkCompressedBytes: 10 ** 6 } }),
    ).toThrow(/maxChunkCompressedBytes/);
    expect(() => LayerIndex.build(checkToc(built.toc), { tocOffset: 10 ** 9, limits: { maxEntries: 0 } })).toThrow(
      InvalidArgumentError,
    );
  });

  it('refuses dangling, cyclic and directory hard links', () => {
    expect(() => entriesOnly([{ name: 'a', type: 'hardlink', linkName: 'missing' }])).toThrow(/does not exist/);
    expect(() =>
      entriesOnly([
        { name: 'a', type: 'hardlink', linkName: 'b' },
        { name: 'b', type: 'hardlink', linkName: 'a' },
      ]),
    ).toThrow('entries[1] "b": hardlink cycle through "a"');
    expect(() => entriesOnly([{ name: 'd/', type: 'dir' }, { name: 'l', type: 'hardlink', linkName: 'd' }])).toThrow(
      /hardlink to directory/,
    );
    // Chains and forward references resolve.
    const idx = entriesOnly([
      { name: 'a', type: 'hardlink', linkName: 'b' },
      { name: 'b', type: 'hardlink', linkName: 'c' },
      { name: 'c', type: 'fifo', mode: 0o600 },
    ]);
    expect(idx.lookup('a')).toBe(idx.lookup('c'));
    expect(idx.lookup('c')!.nlink).toBe(3);
  });

  it('refuses paths under a non-directory, and non-directory roots', () => {
    expect(() => entriesOnly([{ name: 'a', type: 'fifo' }, { name: 'a/b', type: 'fifo' }])).toThrow(/not a directory/);
    expect(() => entriesOnly([{ name: './', type: 'fifo' }])).toThrow(/root must be a directory/);
    expect(() => entriesOnly([{ name: 's', type: 'symlink' }])).toThrow(/without linkName/);
    expect(() => entriesOnly([{ name: '.wh.', type: 'reg' }])).toThrow(/whiteout names nothing/);
    // Whiteouts of the directory itself or its parent would list `.` and `..` as entries.
    expect(() => entriesOnly([{ name: 'd/.wh..', type: 'reg' }])).toThrow('entries[0] "d/.wh..": whiteout of "."');
    expect(() => entriesOnly([{ name: '.wh...', type: 'char' }])).toThrow(MalformedEstargzError);
    expect(() => entriesOnly([{ name: 'd/.wh.../', type: 'reg' }])).toThrow(/whiteout of "\.\."/);
    expect(entriesOnly([{ name: '.wh....', type: 'reg' }]).root.whiteouts.has('...')).toBe(true); // `...` is a name
    expect(() => entriesOnly([{ name: 'x', type: 'fifo', xattrs: { '': 'AA==' } }])).toThrow(/xattr/);
    expect(() => entriesOnly([{ name: 'x', type: 'fifo', modtime: 'soon' }])).toThrow(/RFC 3339/);
  });
});

describe('LayerIndex follows tar semantics', () => {
  it('applies the root entry to the root', () => {
    const idx = entriesOnly([{ name: './', type: 'dir', mode: 0o700, uid: 5 }]);
    expect(idx.root).toMatchObject({ mode: 0o700, uid: 5, implicit: false });
  });

  it('merges a directory given twice and replaces other duplicates', () => {
    const idx = entriesOnly([
      { name: 'd/', type: 'dir', mode: 0o700 },
      { name: 'd/f', type: 'fifo' },
      { name: 'd/', type: 'dir', mode: 0o711 },
      { name: 'x', type: 'fifo' },
      { name: 'x', type: 'symlink', linkName: 'd' },
    ]);
    expect(idx.lookup('d')).toMatchObject({ mode: 0o711 });
    expect(idx.lookup('d/f')).toBeDefined();
    expect(idx.lookup('x')).toMatchObject({ type: 'symlink', linkName: 'd' });
    expect([...idx.nodes()].filter((n: LayerNode) => n.path === 'x')).toHaveLength(1);
  });

  it('gives a whiteout no content, whatever size and chunk its entry claims (fuzz counterexample: a reg .wh.a of size 1)', () => {
    const idx = entriesOnly([{ name: '.wh.a', type: 'reg', size: 1, chunkDigest: `sha256:${'0'.repeat(64)}` }], 1);
    const wh = idx.root.whiteouts.get('a')!;
    expect(wh).toMatchObject({ path: '.wh.a', size: 0 });
    expect(wh.chunks).toHaveLength(0);
  });

  it('lets a real entry win over a whiteout of the same name, and ignores aufs metadata', () => {
    const idx = entriesOnly([
      { name: 'd/.wh.a', type: 'reg' },
      { name: 'd/.wh.b', type: 'reg' },
      { name: 'd/a', type: 'fifo' },
      { name: 'd/.wh..wh.plnk', type: 'dir' },
    ]);
    const d = idx.lookup('d')!;
    expect([...d.whiteouts.keys()]).toEqual(['b']);
    expect([...d.children.keys()]).toEqual(['a']);
    expect(idx.byIno(d.whiteouts.get('b')!.ino)).toBe(d.whiteouts.get('b'));
  });

  it('reports no landmark when there is none', () => {
    expect(entriesOnly([{ name: 'x', type: 'fifo' }]).prefetch).toEqual({ landmark: 'none', files: [], endOffset: 0 });
  });
});
