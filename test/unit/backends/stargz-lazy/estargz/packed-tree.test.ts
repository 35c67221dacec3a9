/**
 * The packed index answers exactly what the object tree it was packed from says: every
 * attribute, path, chunk, child and whiteout of every inode, in the same order, for the
 * upstream writer's fixture and for random TOCs (names shared between directories, hard links,
 * whiteouts, opaque markers, devices, xattrs, multi-chunk files, non-ASCII names).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTree } from './object-tree.js';
import { parseFooter } from '../../../../../backends/stargz-lazy/estargz/footer.js';
import { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import type { LayerNode } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { resolveLimits } from '../../../../../backends/stargz-lazy/estargz/limits.js';
import { parseToc } from '../../../../../backends/stargz-lazy/estargz/toc.js';
import { checkToc, type Toc } from '../../../../../backends/stargz-lazy/estargz/toc-schema.js';
import { loadFixture } from './make-blob.js';

const plain = (n: LayerNode) => ({
  ino: n.ino,
  path: n.path,
  type: n.type,
  mode: n.mode,
  uid: n.uid,
  gid: n.gid,
  userName: n.userName,
  groupName: n.groupName,
  size: n.size,
  mtimeNs: n.mtimeNs,
  linkName: n.linkName,
  devMajor: n.devMajor,
  devMinor: n.devMinor,
  xattrs: [...n.xattrs].map(([k, v]) => [k, v.toString('hex')]),
  nlink: n.nlink,
  digest: n.digest,
  chunks: n.chunks.map((c) => ({ ...c })),
  implicit: n.implicit,
  opaque: n.opaque,
  children: [...n.children].map(([name, c]) => [name, c.ino]),
  whiteouts: [...n.whiteouts].map(([name, c]) => [name, c.ino]),
});

function expectSameAsObjectTree(toc: Toc, tocOffset: number): LayerIndex {
  const objects = buildTree(toc, tocOffset, resolveLimits());
  const index = LayerIndex.build(toc, { tocOffset });
  expect(index.size).toBe(objects.nodes.length);
  for (const want of objects.nodes) {
    const got = index.byIno(want.ino)!;
    expect(plain(got), want.path).toEqual(plain(want));
    // Every name reaches the same inode through lookups by name.
    for (const [name, child] of want.children) expect(got.children.get(name)?.ino, `${want.path}/${name}`).toBe(child.ino);
    for (const [name, wh] of want.whiteouts) expect(got.whiteouts.get(name)?.ino).toBe(wh.ino);
    if (want.type === 'dir') expect(got.children.get('\u0000none')).toBeUndefined();
  }
  expect(index.prefetch.files.map((f) => f.ino)).toEqual(objects.prefetch.files.map((f) => f.ino));
  expect(index.prefetch.endOffset).toBe(objects.prefetch.endOffset);
  expect(index.prefetch.landmark).toBe(objects.prefetch.landmark);
  const files = objects.nodes.filter((n) => n.type === 'reg');
  expect(index.fileBytes).toBe(files.reduce((sum, n) => sum + n.size, 0));
  expect(index.sharesMembers).toBe(files.some((n) => n.chunks.some((c) => c.innerOffset > 0)));
  return index;
}

const sha = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

/** A random layer: entries drawn from a small name space so that names collide and repeat. */
const tocArb = fc
  .array(
    fc.record({
      dir: fc.constantFrom('', 'a', 'a/b', 'c', 'é', 'a/b/d'),
      base: fc.constantFrom('x', 'y', 'z', 'b', 'é', 'ü-long-name', '.wh.x', '.wh.y', '.wh..wh..opq', '.wh..', 'd', '.prefetch.landmark'),
      kind: fc.constantFrom('dir', 'reg', 'reg', 'symlink', 'hardlink', 'char', 'fifo'),
      size: fc.integer({ min: 0, max: 3 }),
      mode: fc.integer({ min: 0, max: 0o7777 }),
      uid: fc.integer({ min: 0, max: 3 }),
      xattr: fc.boolean(),
      chunks: fc.integer({ min: 1, max: 3 }),
    }),
    { maxLength: 40 },
  )
  .map((raw) => {
    const entries: Record<string, unknown>[] = [];
    let offset = 0;
    let digest = 1;
    for (const r of raw) {
      const name = r.dir === '' ? r.base : `${r.dir}/${r.base}`;
      const common = { name, mode: r.mode, uid: r.uid, gid: r.uid, userName: `u${r.uid}`, modtime: '2024-01-01T00:00:00Z' };
      const xattrs = r.xattr ? { xattrs: { 'user.k': Buffer.from(name).toString('base64') } } : {};
      if (r.kind === 'reg') {
        const size = r.size * r.chunks;
        if (size === 0) {
          entries.push({ ...common, ...xattrs, type: 'reg', size: 0 });
          continue;
        }
        const whole = sha(digest++);
        entries.push({ ...common, ...xattrs, type: 'reg', size, digest: whole, offset: (offset += 10), chunkSize: r.size, chunkDigest: r.chunks === 1 ? whole : sha(digest++) });
        for (let i = 1; i < r.chunks; i++) {
          entries.push({ name, type: 'chunk', offset: (offset += 10), chunkOffset: i * r.size, chunkSize: r.size, chunkDigest: sha(digest++) });
        }
      } else if (r.kind === 'symlink') entries.push({ ...common, type: 'symlink', linkName: 'x' });
      else if (r.kind === 'hardlink') entries.push({ ...common, type: 'hardlink', linkName: r.dir === '' ? 'x' : `${r.dir}/x` });
      else if (r.kind === 'char') entries.push({ ...common, type: 'char', devMajor: r.size, devMinor: r.uid });
      else entries.push({ ...common, ...xattrs, type: r.kind });
    }
    return { toc: checkToc({ version: 1, entries }), tocOffset: offset + 100 };
  });

describe('packed LayerIndex', () => {
  it('matches the object tree of the upstream writer fixture', async () => {
    const { blob, expected } = loadFixture('full');
    const footer = parseFooter(blob.subarray(blob.length - 51), blob.length);
    const { toc } = await parseToc(blob.subarray(footer.tocOffset, blob.length - footer.size), { expectedDigest: expected.tocDigest });
    const index = expectSameAsObjectTree(toc, footer.tocOffset);
    expect(index.size).toBeGreaterThan(20);
  });

  it('matches the object tree for random TOCs (or both refuse them)', () => {
    let built = 0;
    fc.assert(
      fc.property(tocArb, ({ toc, tocOffset }) => {
        let objectsFail: unknown;
        try {
          buildTree(toc, tocOffset, resolveLimits());
        } catch (err) {
          objectsFail = err;
        }
        if (objectsFail !== undefined) {
          expect(() => LayerIndex.build(toc, { tocOffset })).toThrow((objectsFail as Error).message);
          return;
        }
        expectSameAsObjectTree(toc, tocOffset);
        built++;
      }),
      { numRuns: 1500 },
    );
    expect(built).toBeGreaterThan(300); // most random layers are valid: the comparison ran
  });

  it('says when gzip members are shared by several chunks', () => {
    const packed = checkToc({
      version: 1,
      entries: [
        { name: 'a', type: 'reg', size: 4, offset: 10, chunkDigest: sha(1) },
        { name: 'b', type: 'reg', size: 4, offset: 10, innerOffset: 4, chunkDigest: sha(2) },
      ],
    });
    expect(expectSameAsObjectTree(packed, 100).sharesMembers).toBe(true);
  });

  it('hands out one object per inode while it is held', () => {
    const index = LayerIndex.build(checkToc({ version: 1, entries: [{ name: 'd/', type: 'dir' }, { name: 'd/f', type: 'reg', size: 0 }] }), { tocOffset: 10 });
    const f = index.lookup('d/f')!;
    expect(index.lookup('/d/f')).toBe(f);
    expect(index.byIno(f.ino)).toBe(f);
    expect(index.lookup('d')!.children.get('f')).toBe(f);
    expect([...index.nodes()].find((n) => n.ino === f.ino)).toBe(f);
    expect(index.root).toBe(index.lookup(''));
    expect(index.byIno(0)).toBeUndefined();
    expect(index.byIno(index.size + 1)).toBeUndefined();
    expect(index.byIno(1.5)).toBeUndefined();
    expect(index.byteLength).toBeGreaterThan(0);
  });
});
