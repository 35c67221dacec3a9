/**
 * The FUSE operations of one layer, called directly (no kernel): attributes from the index,
 * whiteouts and opaque directories presented the overlayfs way, reads through the reader with
 * EIO and one log line when it fails or is too slow, read-only opens.
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
import { EBADF, EINVAL, EIO, ENODATA, ENOENT, ENOTDIR } from '../../../../../backends/stargz-lazy/fs/errno.js';
import { LayerFs, type LayerReader } from '../../../../../backends/stargz-lazy/fs/layer-fs.js';
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

/** fuse-native's stat array (stat-array.ts) read back as named fields. */
function statFromArray(a: Uint32Array): Fuse.Stat {
  const u64 = (at: number) => a[at]! + a[at + 1]! * 2 ** 32;
  return { mode: a[0]!, uid: a[1]!, gid: a[2]!, size: u64(3), dev: a[5]!, nlink: a[6]!, ino: a[7]!, rdev: a[8]!, blksize: a[9]!, blocks: u64(10), atime: u64(12), mtime: u64(14), ctime: u64(16) };
}
const getattr = (fs: LayerFs, path: string): [number, Fuse.Stat | undefined] => {
  const r = fs.getattr(path);
  return typeof r === 'number' ? [r, undefined] : [0, statFromArray(r)];
};
const readdir = (fs: LayerFs, path: string): [number, string[] | undefined, Fuse.Stat[] | undefined] => {
  const r = fs.readdir(path);
  return typeof r === 'number' ? [r, undefined, undefined] : [0, r.names, r.stats.map(statFromArray)];
};
/** A read as fuse-native hands it over: with handle 0 (libfuse answers open itself). */
const read = (ops: Fuse.Operations, path: string, len: number, pos: number, fd = 0) =>
  new Promise<[number, Buffer]>((resolve) => {
    const buf = Buffer.alloc(len);
    ops.read!(path, fd, buf, len, pos, (n) => resolve([n, buf.subarray(0, Math.max(0, n))]));
  });

describe('LayerFs metadata', () => {
  it('stats files, links, devices and directories from the index', async () => {
    const { fs } = layerFs(reader());
    const [e1, root] = await getattr(fs, '/');
    expect(e1).toBe(0);
    expect(root).toMatchObject({ ino: 1, mode: S_IFDIR | 0o755 });
    const [, tool] = await getattr(fs, '/bin/tool');
    expect(tool).toMatchObject({ mode: S_IFREG | 0o4755, size: 20, uid: 0, nlink: 1, mtime: 1715941843000, ctime: 1715941843000 });
    const [, owned] = await getattr(fs, '/etc/owned.conf');
    expect(owned).toMatchObject({ uid: 1000, gid: 1000, mode: S_IFREG | 0o640 });
    const [, link] = await getattr(fs, '/data/link-to-small');
    expect(link).toMatchObject({ mode: S_IFLNK | 0o777, size: 'small.txt'.length });
    const [, small] = await getattr(fs, '/data/small.txt');
    const [, hard] = await getattr(fs, '/data/hard-to-small');
    expect(hard!.ino).toBe(small!.ino);
    expect(small!.nlink).toBe(2);
    const [, nul] = await getattr(fs, '/dev/null');
    expect(nul).toMatchObject({ mode: S_IFCHR | 0o666, rdev: (1 << 8) | 3 });
    expect((await getattr(fs, '/nope'))[0]).toBe(ENOENT);
    expect((await getattr(fs, '/etc/hostname/below'))[0]).toBe(ENOENT);
  });

  it('shows a whiteout as a 0:0 character device under the deleted name, and hides the markers', async () => {
    const { fs } = layerFs(reader());
    const [e, wh] = await getattr(fs, '/removed-file');
    expect(e).toBe(0);
    expect(wh).toMatchObject({ mode: S_IFCHR, rdev: 0, uid: 0, gid: 0, size: 0, nlink: 1 });
    expect((await getattr(fs, '/.wh.removed-file'))[0]).toBe(ENOENT);
    expect((await getattr(fs, '/opaque/.wh..wh..opq'))[0]).toBe(ENOENT);
    expect((await getattr(fs, '/.prefetch.landmark'))[0]).toBe(ENOENT);
    expect(fs.getxattr('/opaque', 'trusted.overlay.opaque')).toEqual(Buffer.from('y'));
    expect(fs.listxattr('/opaque')).toEqual(['trusted.overlay.opaque']);
    expect(fs.listxattr('/removed-file')).toEqual([]);
    expect(fs.getxattr('/etc', 'trusted.overlay.opaque')).toBe(ENODATA);
    expect(fs.getxattr('/data/xattr.txt', 'user.fixture')).toEqual(Buffer.from('value-1'));
    expect(fs.getxattr('/missing', 'user.fixture')).toBe(ENOENT);
  });

  it('lists directories with . and .., whiteouts included, with inode and type', async () => {
    const { fs } = layerFs(reader());
    const [e, names, stats] = await readdir(fs, '/');
    expect(e).toBe(0);
    expect(names!.slice(0, 2)).toEqual(['.', '..']);
    expect(new Set(names)).toEqual(new Set(['.', '..', 'bin', 'etc', 'data', 'dev', 'opaque', 'deep', 'removed-file']));
    expect(stats![names!.indexOf('removed-file')]).toMatchObject({ mode: S_IFCHR });
    const [, sub, subStats] = await readdir(fs, '/deep/er');
    expect(sub).toEqual(['.', '..', 'file.txt']);
    expect(subStats![1]!.ino).toBe((await getattr(fs, '/deep'))[1]!.ino);
    expect((await readdir(fs, '/etc/hostname'))[0]).toBe(ENOTDIR);
    expect((await readdir(fs, '/nope'))[0]).toBe(ENOENT);
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
    const { ops } = layerFs(reader());
    expect(ops.open).toBeUndefined();
    expect(ops.release).toBeUndefined();
    const [n, data] = await read(ops, '/data/big.bin', 5000, 4000);
    expect(n).toBe(5000);
    const [whole] = await Promise.all([read(ops, '/data/big.bin', 20_000, 0)]);
    expect(data).toEqual(whole[1].subarray(4000, 9000));
    expect((await read(ops, '/data/big.bin', 100, 20_000))[0]).toBe(0);
    expect((await read(ops, '/data/big.bin', 100, 19_950))[0]).toBe(50);
    // Hard links read the same bytes; a handle, should one come, is not what names the file.
    expect((await read(ops, '/data/hard-to-small', 100, 0))[1]).toEqual((await read(ops, '/data/small.txt', 100, 0))[1]);
    expect((await read(ops, '/data/small.txt', 100, 0, 12345))[1]).toEqual((await read(ops, '/data/small.txt', 100, 0))[1]);
    // What is no regular file is refused.
    for (const bad of ['/', '/data', '/data/link-to-small', '/dev/null', '/removed-file', '/missing', '/data/small.txt/x', '//data/small.txt']) {
      expect((await read(ops, bad, 10, 0))[0], bad).toBe(EBADF);
    }
  });

  it('answers EIO and logs the file, layer and reason when the data does not verify', async () => {
    const { ops, lines, fs } = layerFs(reader({ fail: new VerificationError('chunk /data/big.bin@4096', 'sha256:x', 'sha256:y', 'digest mismatch') }));
    const [n] = await read(ops, '/data/big.bin', 4096, 4096);
    expect(n).toBe(EIO);
    const line = lines.find((l) => String(l.msg).startsWith('read of /data/big.bin'));
    expect(line).toMatchObject({ level: 50, file: '/data/big.bin', layer: DIGEST, code: 'UNAVAILABLE' });
    expect(String(line!.msg)).toContain(`in layer ${DIGEST} failed (EIO): chunk /data/big.bin@4096 failed verification`);
    expect(fs.counters.readErrors).toBe(1);
  });

  it('answers EIO when a read does not finish within the read timeout', async () => {
    const { ops, lines } = layerFs(reader({ hang: true }), 100);
    const started = Date.now();
    expect((await read(ops, '/etc/hostname', 13, 0))[0]).toBe(EIO);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lines.some((l) => l.reason === 'no answer within 100 ms')).toBe(true);
  });
});
