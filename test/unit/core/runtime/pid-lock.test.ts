/**
 * core/runtime/pid-lock.ts under real races: many processes (fork, the compiled module in dist/,
 * built before the unit tests) call acquirePidLock on one file at the same instant, on a
 * free lock, on a dead owner's lock and on an old garbage file: exactly one wins, every
 * round. The O_EXCL-then-write lock it replaces let a second racer read the winner's
 * still-empty file, take it for garbage and win as well (4 races in 60).
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquirePidLock, GARBAGE_GRACE_MS, LockHeldError } from '../../../../core/runtime/pid-lock.js';

const compiled = new URL('../../../../dist/core/runtime/pid-lock.js', import.meta.url).pathname;
const racer = new URL('../../../fixtures/pid-lock/racer.mjs', import.meta.url).pathname;
const RACERS = 60;
const ROUNDS = 20;

type Reply = { ready?: true; won?: true; held?: true; error?: string; released?: true };

let dir: string;
let racers: ChildProcess[] = [];

function next(child: ChildProcess): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`racer ${child.pid} exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as Reply);
    });
  });
}

function deadPid(): number {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(dead.stdout);
}

beforeAll(async () => {
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run \`npm run build\` before the unit tests`);
  dir = await mkdtemp(path.join(tmpdir(), 'snaphost-pid-lock-'));
  racers = Array.from({ length: RACERS }, () => fork(racer, [compiled], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  await Promise.all(racers.map(next));
}, 60_000);

afterAll(async () => {
  for (const r of racers) if (r.exitCode === null) r.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('acquirePidLock', () => {
  it(`${RACERS} processes started at one instant on one lock: exactly one wins, ${ROUNDS} rounds of free, dead-owner and garbage locks`, async () => {
    const dead = deadPid();
    for (let round = 0; round < ROUNDS; round++) {
      const file = path.join(dir, `round-${round}.lock`);
      const start = round % 3; // 0: free, 1: a dead owner's lock, 2: an old garbage file
      if (start === 1) await writeFile(file, JSON.stringify({ pid: dead, start: '1' }));
      if (start === 2) {
        await writeFile(file, '');
        const old = new Date(Date.now() - 10 * GARBAGE_GRACE_MS);
        await utimes(file, old, old);
      }
      const at = Date.now() + 200;
      const replies = await Promise.all(racers.map((r) => (r.send({ file, at }), next(r))));
      const errors = replies.filter((r) => r.error).map((r) => r.error);
      expect(errors).toEqual([]);
      const winners = racers.filter((_, i) => replies[i]!.won);
      expect({ round, winners: winners.length }).toEqual({ round, winners: 1 });
      const owner = JSON.parse(await readFile(file, 'utf8')) as { pid: number };
      expect(owner.pid).toBe(winners[0]!.pid);
      winners[0]!.send({ release: true });
      await next(winners[0]!);
      expect(existsSync(file)).toBe(false);
    }
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]); // no temp files left behind
  }, 180_000);
});

describe('acquirePidLock in this process', () => {
  it('never takes a fresh non-record file for garbage: it waits out the grace, then takes it over', async () => {
    const file = path.join(dir, 'fresh-garbage.lock');
    await writeFile(file, '');
    const t0 = Date.now();
    const lock = await acquirePidLock(file);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(GARBAGE_GRACE_MS - 100);
    expect(JSON.parse(await readFile(file, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it("removes the temp files of processes that died before linking theirs, not a live one's", async () => {
    const file = path.join(dir, 'temps.lock');
    const deadTemp = `${file}.${deadPid()}.abcdef.tmp`;
    const liveTemp = `${file}.${process.pid}.abcdef.tmp`;
    await writeFile(deadTemp, '');
    await writeFile(liveTemp, '');
    const lock = await acquirePidLock(file);
    expect(existsSync(deadTemp)).toBe(false);
    expect(existsSync(liveTemp)).toBe(true);
    await lock.release();
    await rm(liveTemp);
  });

  it('a live owner keeps its lock; a second claim names it', async () => {
    const file = path.join(dir, 'live.lock');
    const lock = await acquirePidLock(file);
    await expect(acquirePidLock(file)).rejects.toBeInstanceOf(LockHeldError);
    await lock.release();
    const again = await acquirePidLock(file);
    await again.release();
  });
});
