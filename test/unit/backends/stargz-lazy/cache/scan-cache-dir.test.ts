/** scanCacheDir: the chunk files of a cache directory, oldest first; nothing else. */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scanCacheDir } from '../../../../../backends/stargz-lazy/cache/scan-cache-dir.js';

let dir = '';
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('scanCacheDir', () => {
  it('finds sha256 and other-algorithm chunk files with their sizes, oldest first, and ignores the rest', async () => {
    dir = await mkdtemp(join(tmpdir(), 'snaphost-scan-'));
    const a = 'ab' + '1'.repeat(62);
    const b = 'cd' + '2'.repeat(126);
    const put = async (rel: string, size: number, ageMin: number) => {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), Buffer.alloc(size));
      const when = new Date(Date.now() - ageMin * 60_000);
      await utimes(join(dir, rel), when, when);
    };
    await put(`ab/${a}`, 5, 1);
    await put(`sha512/cd/${b}`, 7, 2);
    await put(`ab/${'ff' + '1'.repeat(62)}`, 9, 3); // in the wrong prefix directory
    await put(`ab/${'ab' + 'G'.repeat(62)}`, 9, 3); // not hex
    await put('tmp/123-abc', 9, 3);
    await put('README', 9, 3);
    await mkdir(join(dir, 'ab', 'ab' + '3'.repeat(62))); // a directory, not a file
    const found = await scanCacheDir(dir);
    expect(found.map((f) => [f.digest, f.size])).toEqual([
      [`sha512:${b}`, 7],
      [`sha256:${a}`, 5],
    ]);
    expect(await scanCacheDir(join(dir, 'missing'))).toEqual([]);
  });
});
