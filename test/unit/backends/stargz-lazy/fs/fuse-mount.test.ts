/**
 * A LayerFs mounted for real (fuse-native, the kernel) and used from another process: what the
 * file system leaves to libfuse and the kernel (open, release, the checks open made) behaves as
 * a read-only file system must, and a file read twice reaches the file system once (the page
 * cache is kept across opens: `kernel_cache`, with no `open` of ours).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChunk } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import type { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import type { LayerNode } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { mountLayerFs, type FuseMount } from '../../../../../backends/stargz-lazy/fs/fuse-mount.js';
import { LayerFs, type LayerReader } from '../../../../../backends/stargz-lazy/fs/layer-fs.js';

const exec = promisify(execFile);
const DIGEST = 'sha256:' + 'cd'.repeat(32);
let tmp: string;
let mnt: string;
let mount: FuseMount | undefined;
let index: LayerIndex;
const reads: string[] = [];

/** Runs `code` in another Node process (this one answers the FUSE requests) and returns its JSON. */
async function inChild(code: string): Promise<Record<string, unknown>> {
  const { stdout } = await exec(process.execPath, ['-e', `const fs = require('fs'); const M = ${JSON.stringify(mnt)}; const out = {}; ${code}; console.log(JSON.stringify(out));`]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  const blob = await readFile(new URL('../../../../fixtures/estargz/full.estargz', import.meta.url));
  ({ index } = await openLayer({ size: blob.length, read: async (o, l) => blob.subarray(o, o + l) }));
  const reader: LayerReader = {
    index,
    async read(node: LayerNode, offset: number, length: number) {
      reads.push(node.path);
      const parts: Buffer[] = [];
      const chunks = index.chunksFor(node, offset, length);
      for (const c of chunks) parts.push(await readChunk(blob.subarray(c.offset, c.offset + c.compressedSize), c));
      const start = offset - (chunks[0]?.chunkOffset ?? offset);
      return Buffer.concat(parts).subarray(start, start + Math.min(length, node.size - offset));
    },
  };
  tmp = await mkdtemp(join(tmpdir(), 'fm-'));
  mnt = join(tmp, 'm');
  await mkdir(mnt);
  const log = pino({ level: 'silent' });
  mount = await mountLayerFs(mnt, new LayerFs({ layer: reader, digest: DIGEST, log, readTimeoutMs: 10_000 }), DIGEST, { opTimeoutMs: 20_000, log });
}, 30_000);

afterAll(async () => {
  await mount?.unmount();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('a mounted LayerFs', () => {
  it('refuses writing opens (EROFS), opens directories and reads files and hard links through libfuse', async () => {
    const out = await inChild(`
      for (const flags of ['w', 'r+', 'a']) { try { fs.openSync(M + '/data/small.txt', flags); out[flags] = 'opened'; } catch (e) { out[flags] = e.code; } }
      out.dir = fs.readdirSync(M + '/data').sort();
      out.small = fs.readFileSync(M + '/data/small.txt', 'hex');
      out.hard = fs.readFileSync(M + '/data/hard-to-small', 'hex');
      out.link = fs.readlinkSync(M + '/data/link-to-small');
      try { fs.readFileSync(M + '/data'); } catch (e) { out.readDir = e.code; }
    `);
    expect(out).toMatchObject({ w: 'EROFS', 'r+': 'EROFS', a: 'EROFS', link: 'small.txt', readDir: 'EISDIR' });
    expect(out.dir).toEqual(expect.arrayContaining(['small.txt', 'hard-to-small', 'link-to-small', 'big.bin']));
    expect(out.hard).toBe(out.small);
    const want = createHash('sha256').update(Buffer.from(out.small as string, 'hex')).digest('hex');
    expect(index.lookup('data/small.txt')!.digest).toBe(`sha256:${want}`);
  });

  it('reads a file once however often it is opened and read (the page cache is kept)', async () => {
    const before = reads.filter((p) => p === 'data/big.bin').length;
    const out = await inChild(`
      const h = []; for (let i = 0; i < 3; i++) h.push(require('crypto').createHash('sha256').update(fs.readFileSync(M + '/data/big.bin')).digest('hex'));
      out.same = new Set(h).size === 1; out.sha = h[0];
    `);
    expect(out.same).toBe(true);
    expect(`sha256:${out.sha as string}`).toBe(index.lookup('data/big.bin')!.digest);
    const fetched = reads.filter((p) => p === 'data/big.bin').length - before;
    expect(fetched).toBeGreaterThan(0);
    // One pass of reads (the kernel asks in pieces of up to 128 KiB), not three.
    expect(fetched).toBeLessThanOrEqual(Math.ceil(index.lookup('data/big.bin')!.size / 4096));
    const again = reads.length;
    await inChild(`fs.readFileSync(M + '/data/big.bin');`);
    expect(reads.length).toBe(again);
  });
});
