/**
 * The directory half of the overlay snapshotter (core/overlay/overlay-dirs.ts): building a
 * snapshot dir under a temp name, and taking garbage out of the way of ids the store may hand
 * out again.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GC_PREFIX, MissingSnapshotDirError, TEMP_PREFIX, makeSnapshotDir, takeUnknownDirs } from '../../../../core/overlay/overlay-dirs.js';
import { OverlayLayout } from '../../../../core/overlay/overlay-mounts.js';

let dir: string;
let layout: OverlayLayout;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'overlay-dirs-'));
  layout = new OverlayLayout(dir);
  await mkdir(layout.snapshotsDir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('takeUnknownDirs', () => {
  it('moves unrecorded <id> dirs to gc- names at once, so a reused id can never be deleted later', async () => {
    for (const d of ['1', '2', '3', `${TEMP_PREFIX}abc123`]) await mkdir(path.join(layout.snapshotsDir, d, 'fs'), { recursive: true });
    await writeFile(path.join(layout.snapshotsDir, 'stray-file'), 'x');
    const taken = await takeUnknownDirs(layout, [2]);
    // what remains under an id-like name is exactly the recorded ids
    const left = await readdir(layout.snapshotsDir);
    expect(left.filter((n) => /^[0-9]+$/.test(n))).toEqual(['2']);
    // every path handed back is a non-id name, and they are all there to delete
    expect(taken).toHaveLength(4);
    for (const p of taken) {
      const base = path.basename(p);
      expect(base).not.toMatch(/^[0-9]+$/);
      expect(left).toContain(base);
    }
    expect(taken.map((p) => path.basename(p)).filter((n) => n.startsWith(GC_PREFIX)).map((n) => n.split('-')[1]).sort()).toEqual(['1', '3']);
    // the id is free: a new snapshot takes it while the garbage is still being deleted
    await makeSnapshotDir(layout, 1, true);
    expect((await readdir(layout.upperPath(1)))).toEqual([]);
    for (const p of taken) await rm(p, { recursive: true, force: true });
    expect((await readdir(layout.snapshotsDir)).sort()).toEqual(['1', '2']);
  });
});

describe('makeSnapshotDir', () => {
  it('builds fs (+work) and leaves no temp dir; a missing parent dir is a MissingSnapshotDirError and leaves nothing', async () => {
    await makeSnapshotDir(layout, 7, false);
    expect(await readdir(layout.snapshotDir(7))).toEqual(['fs']);
    expect((await stat(layout.upperPath(7))).mode & 0o777).toBe(0o755);
    const err = await makeSnapshotDir(layout, 8, true, { key: 'parent key', fs: layout.upperPath(99) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingSnapshotDirError);
    expect((err as Error).message).toContain('snapshot "parent key": its directory');
    expect(await readdir(layout.snapshotsDir)).toEqual(['7']);
  });
});
