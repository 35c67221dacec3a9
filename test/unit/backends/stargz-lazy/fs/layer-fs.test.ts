/**
 * The FUSE operations of one layer, called directly (no kernel): attributes from the index,
 * whiteouts and opaque directories presented the overlayfs way, reads through the reader with
 * EIO and one log line when it fails or is too slow, reads by path (no open), listings as
 * fuse-native's stat arrays.
 */
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type Fuse from 'fuse-native';
import { readChunk } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import { VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import type { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import type { LayerNode } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { EINVAL, EIO, EISDIR, ENODATA, ENOENT, ENOTDIR } from '../../../../../backends/stargz-lazy/fs/errno.js';
import { statArrays } from '../../../../../backends/stargz-lazy/fs/fuse-mount.js';
import { LayerFs, type LayerReader, type Listing } from '../../../../../backends/stargz-lazy/fs/layer-fs.js';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from '../../../../../backends/stargz-lazy/fs/node-stat.js';

const fixture = new URL('../../../../fixtures/estargz/full.estargz', import.meta.url);
const DIGEST = 'sha256:' + 'ab'.repeat(32);

let blob: Buffer;
let index: LayerIndex;

beforeAll(async () => {
  blob = await readFile(fixture);
  ({ index } = await openLayer({ size: blob.length, read: async (o, l) => blob.subarray(o, o + l) }));
});

/** Reads chunks out of the in-memory blob; `fail` makes every read throw it, `hang` never answers. */
function reader(mode: { fail?: Error; hang?: boolean } = {}): LayerReader {
  return {
    index,
    async read(node: LayerNode, offset: number, length: number, signal?: AbortSignal) {
      if (mode.fail) throw mode.fail;
      if (mode.hang) {
        return new Promise<Buffer>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      }
      const parts: Buffer[] = [];
      for (const c of index.chunksFor(node, offset, length)) {
        const data = await readChunk(blob.subarray(c.offset, c.offset + c.compressedSize), c);
        parts.push(data);
      }
      const all = Buffer.concat(parts);
      const start = offset - (index.chunksFor(node, offset, length)[0]?.chunkOffset ?? offset);
      return all.subarray(start, start + Math.min(length, node.size - offset));
    },
  };
}

function layerFs(r: LayerReader, readTimeoutMs = 5_000) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const fs = new LayerFs({ layer: r, digest: DIGEST, log: pino({ level: 'debug' }, sink), readTimeoutMs });
  return { fs, ops: fs.operations() as Required<Fuse.Operations>, lines };
}

const getattr = (ops: Fuse.Operations, path: string) =>
  new Promise<[number, Fuse.Stat | undefined]>((resolve) => ops.getattr!(path, (e, s) => resolve([e, s])));
const read = (ops: Fuse.Operations, path: string, fd: number, len: number, pos: number) =>
  new Promise<[number, Buffer]>((resolve) => {
    const buf = Buffer.alloc(len);
    ops.read!(path, fd, buf, len, pos, (n) => resolve([n, buf.subarray(0, Math.max(0, n))]));
  });

describe('LayerFs metadata', () => {
  it('stats files, links, devices and directories from the index', async () => {
    const { ops } = layerFs(reader());
    const [e1, root] = await getattr(ops, '/');
    expect(e1).toBe(0);
    expect(root).toMatchObject({ ino: 1, mode: S_IFDIR | 0o755 });
    const [, tool] = await getattr(ops, '/bin/tool');
    expect(tool).toMatchObject({ mode: S_IFREG | 0o4755, size: 20, uid: 0, nlink: 1, mtime: 1715941843000, ctime: 1715941843000 });
    const [, owned] = await getattr(ops, '/etc/owned.conf');
    expect(owned).toMatchObject({ uid: 1000, gid: 1000, mode: S_IFREG | 0o640 });
    const [, link] = await getattr(ops, '/data/link-to-small');
    expect(link).toMatchObject({ mode: S_IFLNK | 0o777, size: 'small.txt'.length });
    const [, small] = await getattr(ops, '/data/small.txt');
    const [, hard] = await getattr(ops, '/data/hard-to-small');
    expect(hard!.ino).toBe(small!.ino);
    expect(small!.nlink).toBe(2);
    const [, nul] = await getattr(ops, '/dev/null');
    expect(nul).toMatchObject({ mode: S_IFCHR | 0o666, rdev: (1 << 8) | 3 });
    expect((await getattr(ops, '/nope'))[0]).toBe(ENOENT);
    expect((await getattr(ops, '/etc/hostname/below'))[0]).toBe(ENOENT);
  });

  it('shows a whiteout as a 0:0 character device under the deleted name, and hides the markers', async () => {
    const { ops, fs } = layerFs(reader());
    const [e, wh] = await getattr(ops, '/removed-file');
    expect(e).toBe(0);
    expect(wh).toMatchObject({ mode: S_IFCHR, rdev: 0, uid: 0, gid: 0, size: 0, nlink: 1 });
    expect((await getattr(ops, '/.wh.removed-file'))[0]).toBe(ENOENT);
    expect((await getattr(ops, '/opaque/.wh..wh..opq'))[0]).toBe(ENOENT);
    expect((await getattr(ops, '/.prefetch.landmark'))[0]).toBe(ENOENT);
    expect(fs.getxattr('/opaque', 'trusted.overlay.opaque')).toEqual(Buffer.from('y'));
    expect(fs.listxattr('/opaque')).toEqual(['trusted.overlay.opaque']);
    expect(fs.listxattr('/removed-file')).toEqual([]);
    expect(fs.getxattr('/etc', 'trusted.overlay.opaque')).toBe(ENODATA);
    expect(fs.getxattr('/data/xattr.txt', 'user.fixture')).toEqual(Buffer.from('value-1'));
    expect(fs.getxattr('/missing', 'user.fixture')).toBe(ENOENT);
  });

  it('lists directories with . and .., whiteouts included, with inode and type (as getattr shows them)', async () => {
    const { ops, fs } = layerFs(reader());
    expect(ops.readdir).toBeUndefined(); // answered by fuse-mount.ts from `list`
    const root = fs.list('/') as Listing;
    expect(root.names.slice(0, 2)).toEqual(['.', '..']);
    expect(new Set(root.names)).toEqual(new Set(['.', '..', 'bin', 'etc', 'data', 'dev', 'opaque', 'deep', 'removed-file']));
    expect(root.modes[root.names.indexOf('removed-file')]).toBe(S_IFCHR);
    for (const [i, name] of root.names.entries()) {
      if (name === '.' || name === '..') continue;
      const [, st] = await getattr(ops, `/${name}`);
      expect(root.inos[i], name).toBe(st!.ino);
      expect(root.modes[i], name).toBe(st!.mode & 0o170000);
    }
    const sub = fs.list('/deep/er') as Listing;
    expect(sub.names).toEqual(['.', '..', 'file.txt']);
    expect(sub.inos[0]).toBe((await getattr(ops, '/deep/er'))[1]!.ino);
    expect(sub.inos[1]).toBe((await getattr(ops, '/deep'))[1]!.ino);
    expect(sub.modes[2]).toBe(S_IFREG);
    expect(fs.list('/etc/hostname')).toBe(ENOTDIR);
    expect(fs.list('/nope')).toBe(ENOENT);
    expect(fs.list('/removed-file')).toBe(ENOTDIR);
  });

  it('hands fuse-native one 18-int stat array per entry with its mode, inode and one link', () => {
    const { fs } = layerFs(reader());
    const root = fs.list('/') as Listing;
    const arrays = statArrays(root);
    expect(arrays).toHaveLength(root.names.length);
    arrays.forEach((a, i) => {
      expect(a).toBeInstanceOf(Uint32Array);
      expect(a.length).toBe(18);
      expect([a[0], a[6], a[7]]).toEqual([root.modes[i], 1, root.inos[i]]);
    });
    expect(statArrays({ names: [], modes: [], inos: [] })).toEqual([]);
  });

  it('answers readlink for symlinks only, statfs as read-only', async () => {
    const { ops } = layerFs(reader());
    await expect(new Promise((r) => ops.readlink('/data/link-to-small', (e, t) => r([e, t])))).resolves.toEqual([0, 'small.txt']);
    await expect(new Promise((r) => ops.readlink('/data/small.txt', (e) => r(e)))).resolves.toBe(EINVAL);
    const st = await new Promise<Fuse.Statfs | undefined>((r) => ops.statfs('/', (_e, s) => r(s)));
    expect(st).toMatchObject({ bsize: 4096, flag: 1, namemax: 255, bfree: 0, files: 23 });
  });
});

describe('LayerFs reads', () => {
  it('reads verified bytes of regular files by path, with no open or release', async () => {
    const { ops, fs } = layerFs(reader());
    expect(ops.open).toBeUndefined(); // libfuse answers open and release itself
    expect(ops.release).toBeUndefined();
    expect((await read(ops, '/data', 0, 10, 0))[0]).toBe(EISDIR);
    expect((await read(ops, '/dev/null', 0, 10, 0))[0]).toBe(EINVAL);
    expect((await read(ops, '/removed-file', 0, 10, 0))[0]).toBe(EINVAL);
    expect((await read(ops, '/nope', 0, 10, 0))[0]).toBe(ENOENT);
    const [n, data] = await read(ops, '/data/big.bin', 0, 5000, 4000);
    expect(n).toBe(5000);
    const [whole] = await Promise.all([read(ops, '/data/big.bin', 0, 20_000, 0)]);
    expect(data).toEqual(whole[1].subarray(4000, 9000));
    expect((await read(ops, '/data/big.bin', 0, 100, 20_000))[0]).toBe(0);
    expect((await read(ops, '/data/big.bin', 0, 100, 19_950))[0]).toBe(50);
    // Reads of two files interleaved each get their own file's bytes.
    const small = await read(ops, '/data/small.txt', 0, 4096, 0);
    const again = await read(ops, '/data/big.bin', 0, 5000, 4000);
    expect(small[0]).toBeGreaterThan(0);
    expect(again[1]).toEqual(data);
    expect((await read(ops, '/data/small.txt', 0, 4096, 0))[1]).toEqual(small[1]);
    expect(fs.counters.readErrors).toBe(0);
  });

  it('answers EIO and logs the file, layer and reason when the data does not verify', async () => {
    const { ops, lines, fs } = layerFs(reader({ fail: new VerificationError('chunk /data/big.bin@4096', 'sha256:x', 'sha256:y', 'digest mismatch') }));
    const [n] = await read(ops, '/data/big.bin', 0, 4096, 4096);
    expect(n).toBe(EIO);
    const line = lines.find((l) => String(l.msg).startsWith('read of /data/big.bin'));
    expect(line).toMatchObject({ level: 50, file: '/data/big.bin', layer: DIGEST, code: 'UNAVAILABLE' });
    expect(String(line!.msg)).toContain(`in layer ${DIGEST} failed (EIO): chunk /data/big.bin@4096 failed verification`);
    expect(fs.counters.readErrors).toBe(1);
  });

  it('answers EIO when a read does not finish within the read timeout', async () => {
    const { ops, lines } = layerFs(reader({ hang: true }), 100);
    const started = Date.now();
    expect((await read(ops, '/etc/hostname', 0, 13, 0))[0]).toBe(EIO);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lines.some((l) => l.reason === 'no answer within 100 ms')).toBe(true);
  });
});
