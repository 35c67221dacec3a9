/**
 * Warm-up directories left by FUSE processes killed during their warm-up are removed by the
 * next warm-up; those of live processes stay, unless older than any warm-up runs.
 */
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWarmUpDir, STALE_WARM_UP_MS, sweepWarmUpDirs, WARM_UP_DIR_PREFIX } from '../../../../../backends/stargz-lazy/fused/warm-up-dirs.js';

let parent: string;
beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'warm-up-dirs-'));
});
afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

async function leftover(name: string, ageMs = 0): Promise<string> {
  const dir = join(parent, name);
  await mkdir(join(dir, 'ab'), { recursive: true });
  await writeFile(join(dir, 'ab', 'chunk'), 'x');
  if (ageMs > 0) {
    const t = (Date.now() - ageMs) / 1000;
    await utimes(dir, t, t);
  }
  return dir;
}

describe('warm-up directories', () => {
  it('are named after the process that made them', async () => {
    const dir = await makeWarmUpDir(parent, 4242);
    expect(dir.startsWith(join(parent, `${WARM_UP_DIR_PREFIX}4242-`))).toBe(true);
  });

  it("removes a dead process's directory with its files, keeps a live one's and everything else", async () => {
    await leftover(`${WARM_UP_DIR_PREFIX}111-aaaaaa`);
    await leftover(`${WARM_UP_DIR_PREFIX}222-bbbbbb`);
    await leftover('other-dir');
    await writeFile(join(parent, `${WARM_UP_DIR_PREFIX}333-file`), 'not a directory');
    const removed = await sweepWarmUpDirs(parent, { isAlive: (pid) => pid === 222 });
    expect(removed).toBe(1);
    expect((await readdir(parent)).sort()).toEqual(['other-dir', `${WARM_UP_DIR_PREFIX}222-bbbbbb`, `${WARM_UP_DIR_PREFIX}333-file`].sort());
  });

  it('removes a live pid\'s directory once it is older than any warm-up (pids are reused)', async () => {
    await leftover(`${WARM_UP_DIR_PREFIX}222-old`, STALE_WARM_UP_MS + 60_000);
    await leftover(`${WARM_UP_DIR_PREFIX}222-new`);
    expect(await sweepWarmUpDirs(parent, { isAlive: () => true })).toBe(1);
    expect(await readdir(parent)).toEqual([`${WARM_UP_DIR_PREFIX}222-new`]);
  });

  it('goes by age alone for names without a pid (older builds)', async () => {
    await leftover(`${WARM_UP_DIR_PREFIX}XyZ123`, STALE_WARM_UP_MS + 60_000);
    await leftover(`${WARM_UP_DIR_PREFIX}AbC456`);
    expect(await sweepWarmUpDirs(parent, { isAlive: () => false })).toBe(1);
    expect(await readdir(parent)).toEqual([`${WARM_UP_DIR_PREFIX}AbC456`]);
  });

  it('keeps the directory of this very process', async () => {
    const mine = await makeWarmUpDir(parent);
    expect(await sweepWarmUpDirs(parent)).toBe(0);
    expect(await readdir(parent)).toEqual([mine.slice(parent.length + 1)]);
  });

  it('answers 0 for a parent that does not exist', async () => {
    expect(await sweepWarmUpDirs(join(parent, 'nope'))).toBe(0);
  });
});
