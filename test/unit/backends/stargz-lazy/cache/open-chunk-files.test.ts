/**
 * OpenChunkFiles: the table of chunk files kept open for range reads is bounded in count and
 * age, and never closes a file under a read that uses it.
 */
import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { OpenChunkFiles, type OpenChunkFile } from '../../../../../backends/stargz-lazy/cache/open-chunk-files.js';

function fakeFile(name: string, closed: string[]): OpenChunkFile {
  const handle = { close: () => (closed.push(name), Promise.resolve()) } as unknown as FileHandle;
  return { handle, size: 1, identity: name };
}

describe('OpenChunkFiles', () => {
  it('keeps at most maxFiles, closing the least recently used first', () => {
    const closed: string[] = [];
    const files = new OpenChunkFiles(3, 60_000, () => undefined);
    for (const d of ['a', 'b', 'c']) files.release(files.add(d, fakeFile(d, closed)));
    files.release(files.acquire('a')!); // a is the most recently used now
    for (const d of ['d', 'e']) files.release(files.add(d, fakeFile(d, closed)));
    expect(files.size).toBe(3);
    expect(closed).toEqual(['b', 'c']);
    expect(files.acquire('b')).toBeUndefined();
    expect(files.acquire('a')?.identity).toBe('a');
  });

  it('never closes a file in use: dropped or evicted, it closes on its last release', () => {
    const closed: string[] = [];
    const files = new OpenChunkFiles(1, 60_000, () => undefined);
    const a = files.add('a', fakeFile('a', closed)); // in use by its opener
    const a2 = files.acquire('a')!; // and by a second read
    files.release(files.add('b', fakeFile('b', closed))); // evicts a from the table
    expect(files.acquire('a')).toBeUndefined();
    expect(closed).toEqual([]);
    files.release(a);
    expect(closed).toEqual([]);
    files.release(a2);
    expect(closed).toEqual(['a']);
    const b = files.acquire('b')!;
    files.drop('b');
    expect(closed).toEqual(['a']);
    files.release(b);
    expect(closed).toEqual(['a', 'b']);
    expect(files.size).toBe(0);
  });

  it('does not hand out a file older than maxAgeMs (closed; the caller opens the path again)', async () => {
    const closed: string[] = [];
    const files = new OpenChunkFiles(4, 5, () => undefined);
    files.release(files.add('a', fakeFile('a', closed)));
    const young = files.acquire('a');
    expect(young?.identity).toBe('a');
    files.release(young!);
    await new Promise((r) => setTimeout(r, 20));
    expect(files.acquire('a')).toBeUndefined();
    expect(closed).toEqual(['a']);
    // An idle file past its age is closed by the next open of another one.
    files.release(files.add('b', fakeFile('b', closed)));
    await new Promise((r) => setTimeout(r, 20));
    files.release(files.add('c', fakeFile('c', closed)));
    expect(closed).toEqual(['a', 'b']);
    expect(files.size).toBe(1);
  });

  it('keeps the first file of a digest: a second one opened meanwhile closes when its read ends', () => {
    const closed: string[] = [];
    const files = new OpenChunkFiles(4, 60_000, () => undefined);
    files.release(files.add('a', fakeFile('a1', closed)));
    const second = files.add('a', fakeFile('a2', closed));
    files.release(second);
    expect(closed).toEqual(['a2']);
    expect(files.acquire('a')?.identity).toBe('a1');
  });

  it('keeps nothing with maxFiles 0, and dropAll closes every file not in use', () => {
    const closed: string[] = [];
    const none = new OpenChunkFiles(0, 60_000, () => undefined);
    none.release(none.add('a', fakeFile('a', closed)));
    expect(none.size).toBe(0);
    expect(closed).toEqual(['a']);
    const files = new OpenChunkFiles(4, 60_000, () => undefined);
    for (const d of ['b', 'c']) files.release(files.add(d, fakeFile(d, closed)));
    const c = files.acquire('c')!;
    files.dropAll();
    expect(closed).toEqual(['a', 'b']);
    files.release(c);
    expect(closed).toEqual(['a', 'b', 'c']);
  });

  it('reports a failed close and goes on', async () => {
    const errors: unknown[] = [];
    const files = new OpenChunkFiles(4, 60_000, (err) => errors.push(err));
    const handle = { close: () => Promise.reject(new Error('EIO')) } as unknown as FileHandle;
    files.release(files.add('a', { handle, size: 1, identity: 'a' }));
    files.drop('a');
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect(files.size).toBe(0);
  });
});
