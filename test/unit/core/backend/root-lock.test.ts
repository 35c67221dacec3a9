import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockRoot } from '../../../../core/backend/root-lock.js';
import { BackendContractError } from '../../../../core/contract/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'snaphost-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('lockRoot', () => {
  it('creates the root and records this process as the owner', async () => {
    const root = path.join(dir, 'a', 'b');
    const lock = await lockRoot('memory', root);
    const owner = JSON.parse(await readFile(path.join(root, LOCK_FILE), 'utf8'));
    expect(owner.pid).toBe(process.pid);
    expect(owner.start).toMatch(/^\d+$/);
    await lock.release();
  });

  it('refuses a second claim while the first is held, naming the backend and root', async () => {
    const lock = await lockRoot('memory', dir);
    const second = lockRoot('memory-b', dir);
    await expect(second).rejects.toBeInstanceOf(BackendContractError);
    await expect(lockRoot('memory-b', dir)).rejects.toThrow(/backend "memory-b": root .* is in use/);
    await lock.release();
    const again = await lockRoot('memory-b', dir);
    await again.release();
  });

  it('takes over the lock of a process that is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: Number(dead.stdout), start: '1' }));
    const lock = await lockRoot('memory', dir);
    expect(JSON.parse(await readFile(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a lock whose PID now belongs to a process started at another time', async () => {
    await writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, start: '1' }));
    const lock = await lockRoot('memory', dir);
    await lock.release();
  });

  it('takes over a garbage lock file (a crash while writing it)', async () => {
    await writeFile(path.join(dir, LOCK_FILE), '{"pid":');
    const lock = await lockRoot('memory', dir);
    await lock.release();
  });

  it('release does not remove a lock someone else owns now', async () => {
    const lock = await lockRoot('memory', dir);
    await writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, start: '0' }));
    await lock.release();
    expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toContain('"pid":1');
  });
});
