import { lstat, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageFsPath, linkImageFs } from '../../../../core/image-fs/link-image-fs.js';

let dir: string;
let containerdRoot: string;
let backendRoot: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-image-fs-'));
  containerdRoot = join(dir, 'containerd');
  backendRoot = join(dir, 'state', 'stargz-lazy');
  await mkdir(backendRoot, { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('imageFsPath', () => {
  it("is CRI's imageFSPath: <root>/io.containerd.snapshotter.v1.<name>", () => {
    expect(imageFsPath('/var/lib/containerd', 'stargz-lazy')).toBe('/var/lib/containerd/io.containerd.snapshotter.v1.stargz-lazy');
  });
  it('refuses a relative containerd root and names that are not one path component', () => {
    expect(() => imageFsPath('var/lib/containerd', 'x')).toThrow(/containerdRoot must be an absolute path/);
    for (const bad of ['', 'a/b', '..', '.', 'a\0b']) expect(() => imageFsPath('/c', bad)).toThrow(/cannot be part of a directory name/);
  });
});

describe('linkImageFs', () => {
  it("creates containerd's root and the link when neither exists; the link resolves to the backend root", async () => {
    const r = await linkImageFs(containerdRoot, 'stargz-lazy', backendRoot);
    expect(r).toEqual({ path: join(containerdRoot, 'io.containerd.snapshotter.v1.stargz-lazy'), action: 'created' });
    expect(await readlink(r.path)).toBe(backendRoot);
    expect((await stat(r.path)).ino).toBe((await stat(backendRoot)).ino);
    expect((await stat(containerdRoot)).mode & 0o777).toBe(0o711);
  });

  it('keeps a link that already points at the root', async () => {
    await linkImageFs(containerdRoot, 'stargz-lazy', backendRoot);
    const r = await linkImageFs(containerdRoot, 'stargz-lazy', backendRoot);
    expect(r.action).toBe('kept');
    expect(await readlink(r.path)).toBe(backendRoot);
  });

  it('points a link at an old root to the current one, leaving no temporary link behind', async () => {
    await mkdir(containerdRoot);
    const at = join(containerdRoot, 'io.containerd.snapshotter.v1.stargz-lazy');
    await symlink('/old/root', at);
    const r = await linkImageFs(containerdRoot, 'stargz-lazy', backendRoot);
    expect(r).toEqual({ path: at, action: 'replaced', previous: '/old/root' });
    expect(await readlink(at)).toBe(backendRoot);
    expect(await readdir(containerdRoot)).toEqual(['io.containerd.snapshotter.v1.stargz-lazy']);
  });

  it('never replaces a real directory (containerd\'s own snapshotter of that name) and says why', async () => {
    const at = join(containerdRoot, 'io.containerd.snapshotter.v1.overlayfs');
    await mkdir(join(at, 'snapshots'), { recursive: true });
    const r = await linkImageFs(containerdRoot, 'overlayfs', backendRoot);
    expect(r.action).toBe('skipped');
    expect(r.action === 'skipped' && r.reason).toMatch(/is a directory .* left as is/);
    expect((await lstat(at)).isDirectory()).toBe(true);
    expect(await readdir(at)).toEqual(['snapshots']);
  });

  it('never replaces a file either', async () => {
    await mkdir(containerdRoot);
    const at = join(containerdRoot, 'io.containerd.snapshotter.v1.memory');
    await writeFile(at, 'data');
    const r = await linkImageFs(containerdRoot, 'memory', backendRoot);
    expect(r.action).toBe('skipped');
    expect((await lstat(at)).isFile()).toBe(true);
  });

  it('refuses a relative backend root', async () => {
    await expect(linkImageFs(containerdRoot, 'memory', 'state/memory')).rejects.toThrow(/backend root must be an absolute path/);
  });
});
