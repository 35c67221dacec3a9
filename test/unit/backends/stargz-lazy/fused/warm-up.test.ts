/**
 * The FUSE-serving process's warm-up: its synthetic layer is a valid eStargz blob, and a
 * warm-up (which reads every kind of file through the FUSE operations) runs the whole path (loopback server, registry client, index,
 * FUSE operations, reads) without a warning and leaves nothing behind.
 */
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { inThreadIndexer } from '../../../../../backends/stargz-lazy/estargz/toc-indexer.js';
import { makeWarmUpBlob, makeWarmUpToc } from '../../../../../backends/stargz-lazy/fused/warm-up-blob.js';
import { warmUp } from '../../../../../backends/stargz-lazy/fused/warm-up.js';

const leftovers = async () => (await readdir(tmpdir())).filter((n) => n.startsWith('snaphost-fused-warm-up-'));

describe('warm-up blob', () => {
  it('is an eStargz layer with the entries it was made with', async () => {
    const blob = makeWarmUpBlob(3, 5);
    const reader = { size: blob.bytes.length, read: async (o: number, l: number) => blob.bytes.subarray(o, o + l) };
    const opened = await openLayer(reader, { expectedTocDigest: blob.tocDigest });
    expect(blob.files).toHaveLength(15);
    for (const f of blob.files) expect(opened.index.lookup(f)?.type).toBe('reg');
    expect(opened.index.lookup('warm/link')).toMatchObject({ type: 'symlink', linkName: 'd0/f0.txt' });
    expect(opened.index.lookup('warm/hard')?.ino).toBe(opened.index.lookup('warm/d0/f1.txt')?.ino);
    expect(opened.index.lookup('warm/d1')?.opaque).toBe(true);
    expect([...(opened.index.lookup('warm')?.whiteouts.keys() ?? [])]).toEqual(['gone']);
    expect(opened.index.lookup(blob.bigFile)?.chunks).toHaveLength(4);

  });

  it('the indexer warm-up TOC is a valid TOC of that many files, with every kind of entry', async () => {
    const { compressed, tocOffset } = makeWarmUpToc(500);
    const { index } = await inThreadIndexer.index({ compressed, tocOffset });
    const kinds: Record<string, number> = {};
    for (const n of index.nodes()) kinds[n.type] = (kinds[n.type] ?? 0) + 1;
    // 500 files: 450 regular, 50 symlinks; then w/big.bin, w/capable, w/null, w/pipe
    expect(kinds).toEqual({ dir: 14, reg: 452, symlink: 50, char: 1, fifo: 1 });
    expect(index.lookup('w/big.bin')?.chunks).toHaveLength(4);
    expect(index.lookup('w/hard')?.ino).toBe(index.lookup('w/usr/share/d0/f0.txt')?.ino);
    expect(index.lookup('w/usr/share/d0/f8.txt')?.uid).toBe(1000);
    expect(index.lookup('w/capable')?.xattrs.has('security.capability')).toBe(true);
    expect(index.prefetch.landmark).toBe('prefetch');
    const other = makeWarmUpToc(500, 'no-prefetch');
    expect((await inThreadIndexer.index(other)).index.prefetch.landmark).toBe('no-prefetch');
  });
});

describe('warmUp', () => {
  it('runs the whole path without a warning and leaves no directory or server behind', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const before = await leftovers();
    const ms = await warmUp({ log, limits: {}, regionBytes: 64 * 1024 });
    expect(ms).toBeGreaterThan(0);
    expect(lines.filter((l) => Number(l['level']) >= 40)).toEqual([]);
    expect(lines.some((l) => l['msg'] === 'warmed up')).toBe(true);
    // Nothing new: the warm-up's own directory is gone (it may also have removed older leftovers of dead processes).
    expect((await leftovers()).filter((n) => !before.includes(n))).toEqual([]);
    // the loopback server is closed: nothing of this process listens any more
    const handles = (process as unknown as { _getActiveHandles(): { constructor: { name: string }; listening?: boolean }[] })._getActiveHandles();
    expect(handles.filter((h) => h.constructor.name === 'Server' && h.listening)).toEqual([]);
  }, 30_000);
});
