/**
 * writeFileRenamed: a whole file at the final path or none, the temp file gone either way, and
 * the identity of the very inode written; DiskStore.write on top of it makes a shard directory
 * removed from outside again.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskStore } from '../../../../../backends/stargz-lazy/cache/disk-store.js';
import { writeFileRenamed } from '../../../../../backends/stargz-lazy/cache/write-file-renamed.js';
import { sha256 } from '../estargz/make-blob.js';
import { captureLog } from '../layer/layer-env.js';
import { testData } from '../registry/servers/test-client.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'snaphost-wfr-'));
  dirs.push(d);
  await mkdir(join(d, 'tmp'));
  return d;
}

describe('writeFileRenamed', () => {
  it('writes the whole file, replacing one in place, and answers the stat of the inode written (after the rename)', async () => {
    const d = await tempDir();
    const data = testData(3 * 1024 * 1024 + 5, 1);
    await writeFile(join(d, 'final'), 'old');
    const st = await writeFileRenamed(join(d, 'tmp', 't1'), join(d, 'final'), data, 0o600);
    expect((await readFile(join(d, 'final'))).equals(data)).toBe(true);
    const now = await stat(join(d, 'final'));
    expect([st.ino, st.size, st.ctimeMs, st.mtimeMs]).toEqual([now.ino, now.size, now.ctimeMs, now.mtimeMs]);
    expect(now.mode & 0o777).toBe(0o600);
    expect(await readdir(join(d, 'tmp'))).toEqual([]);
  });

  it('leaves no temp file and no final file when the rename fails; never overwrites an existing temp', async () => {
    const d = await tempDir();
    await expect(writeFileRenamed(join(d, 'tmp', 't1'), join(d, 'missing-dir', 'final'), Buffer.from('x'), 0o600)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(join(d, 'tmp'))).toEqual([]);
    await writeFile(join(d, 'tmp', 't2'), 'someone else');
    await expect(writeFileRenamed(join(d, 'tmp', 't2'), join(d, 'final'), Buffer.from('x'), 0o600)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(join(d, 'tmp', 't2'), 'utf8')).toBe('someone else');
    await expect(stat(join(d, 'final'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writes an empty file', async () => {
    const d = await tempDir();
    const st = await writeFileRenamed(join(d, 'tmp', 't'), join(d, 'final'), Buffer.alloc(0), 0o600);
    expect(st.size).toBe(0);
    expect((await readFile(join(d, 'final'))).length).toBe(0);
  });
});

describe('DiskStore.write', () => {
  it('makes a shard directory removed from outside again (the failed write says so, the next one succeeds)', async () => {
    const d = await tempDir();
    const store = await DiskStore.open(join(d, 'cache'), captureLog().log);
    const a = testData(1000, 1);
    const file = join(d, 'cache', sha256(a).slice(7, 9), sha256(a).slice(7));
    expect(await store.write(sha256(a), a)).toBeDefined();
    await rm(join(d, 'cache', sha256(a).slice(7, 9)), { recursive: true });
    await expect(store.write(sha256(a), a)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(join(d, 'cache', 'tmp'))).toEqual([]);
    expect(await store.write(sha256(a), a)).toBeDefined();
    expect((await readFile(file)).equals(a)).toBe(true);
    expect(await readdir(join(d, 'cache', 'tmp'))).toEqual([]);
  });
});
