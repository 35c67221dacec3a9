import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, open, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diskUsage } from '../../../../core/overlay/disk-usage.js';

let dir: string;
const mounted: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'du-test-'));
});
afterEach(async () => {
  for (const m of mounted.splice(0)) execFileSync('umount', [m]);
  await rm(dir, { recursive: true, force: true });
});

/** Allocated bytes of one path, as stat reports them. */
async function allocated(p: string): Promise<number> {
  return (await stat(p)).blocks * 512;
}

describe('diskUsage', () => {
  it('counts the root, directories and files by allocated blocks', async () => {
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'a'), Buffer.alloc(100_000, 1));
    const u = await diskUsage(dir);
    expect(u.inodes).toBe(3);
    const expected = (await allocated(dir)) + (await allocated(path.join(dir, 'sub'))) + (await allocated(path.join(dir, 'sub', 'a')));
    expect(u.size).toBe(expected);
    expect(u.size).toBeGreaterThanOrEqual(100_000);
  });

  it('counts hard links once', async () => {
    const a = path.join(dir, 'a');
    await writeFile(a, Buffer.alloc(64 * 1024, 1));
    await link(a, path.join(dir, 'b'));
    await link(a, path.join(dir, 'c'));
    const u = await diskUsage(dir);
    expect(u.inodes).toBe(2);
    expect(u.size).toBe((await allocated(dir)) + (await allocated(a)));
  });

  it('counts what a sparse file allocates, not its length', async () => {
    const f = path.join(dir, 'sparse');
    const fh = await open(f, 'w');
    await fh.write(Buffer.alloc(4096, 1), 0, 4096, 512 * 1024 * 1024);
    await fh.close();
    expect((await stat(f)).size).toBeGreaterThan(512 * 1024 * 1024);
    const u = await diskUsage(dir);
    expect(u.size).toBeLessThan(1024 * 1024);
    expect(u.size).toBe((await allocated(dir)) + (await allocated(f)));
  });

  it('does not follow symlinks', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'du-outside-'));
    try {
      await writeFile(path.join(outside, 'big'), Buffer.alloc(1024 * 1024, 1));
      await symlink(outside, path.join(dir, 'link'));
      const u = await diskUsage(dir);
      expect(u.inodes).toBe(2);
      expect(u.size).toBeLessThan(1024 * 1024);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('does not cross into another mount', async () => {
    const mnt = path.join(dir, 'mnt');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'du-test', mnt]);
    mounted.push(mnt);
    await writeFile(path.join(mnt, 'big'), Buffer.alloc(2 * 1024 * 1024, 1));
    const u = await diskUsage(dir);
    expect(u).toEqual({ size: await allocated(dir), inodes: 1 });
  });

  it('counts a directory bind-mounted inside the tree (same file system) once', async () => {
    await mkdir(path.join(dir, 'a'));
    await mkdir(path.join(dir, 'b'));
    await writeFile(path.join(dir, 'a', 'f'), Buffer.alloc(64 * 1024, 1));
    await writeFile(path.join(dir, 'a', 'g'), Buffer.alloc(8 * 1024, 1));
    const bIno = (await stat(path.join(dir, 'b'))).ino;
    const bSize = await allocated(path.join(dir, 'b'));
    const before = await diskUsage(dir);
    expect(before.inodes).toBe(5);
    execFileSync('mount', ['--bind', path.join(dir, 'a'), path.join(dir, 'b')]);
    mounted.push(path.join(dir, 'b'));
    expect((await stat(path.join(dir, 'b'))).ino).not.toBe(bIno);
    const after = await diskUsage(dir);
    expect(after).toEqual({ size: before.size - bSize, inodes: 4 }); // b's own inode is hidden, a's tree counted once
  });

  it('measures a single file, rejects a missing root, and stops on abort', async () => {
    const f = path.join(dir, 'f');
    await writeFile(f, 'x');
    expect(await diskUsage(f)).toEqual({ size: await allocated(f), inodes: 1 });
    await expect(diskUsage(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(diskUsage(dir, ac.signal)).rejects.toThrow('stop');
  });
});
