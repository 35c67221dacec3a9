/**
 * Crash safety for real: a child process (test/fixtures/lmdb/crash-writer.ts) writes pairs of
 * snapshots into an LmdbMetaStore, one pair per transaction, and is SIGKILLed at random
 * moments, 25 times on the same directory. After each kill the store must open (its loader
 * checks every record, every parent, the id counter), hold every pair whole or not at all,
 * keep every write the child saw acknowledged, and never hand an id to a second snapshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LmdbMetaStore } from '../../../../core/metastore/lmdb-metastore.js';

const repo = fileURLToPath(new URL('../../../..', import.meta.url));
const writer = join(repo, 'test/fixtures/lmdb/crash-writer.ts');
// vitest's own TypeScript runner (a dependency of vitest 3), so the child runs the sources.
const viteNode = join(repo, 'node_modules/vite-node/dist/cli.mjs');
const ROUNDS = 25;

let tmp: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-lmdb-crash-'));
});
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  child = undefined;
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Events {
  lines: string[];
  ready: boolean;
}

/** Start the writer; resolve with its events once it is SIGKILLed `delayMs` after `ready` (or after spawn). */
function runAndKill(dir: string, round: number, delayMs: number, fromSpawn: boolean): Promise<Events> {
  const events: Events = { lines: [], ready: false };
  const proc = spawn(process.execPath, [viteNode, writer], {
    cwd: repo,
    env: { ...process.env, SNAPHOST_CRASH_DIR: dir, SNAPHOST_CRASH_ROUND: String(round) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let stderr = '';
  let buffered = '';
  const kill = () => proc.kill('SIGKILL');
  if (fromSpawn) setTimeout(kill, delayMs);
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) {
      events.lines.push(line);
      if (line === 'ready' && !events.ready) {
        events.ready = true;
        if (!fromSpawn) setTimeout(kill, delayMs);
      }
    }
  });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited by itself (code ${code}, signal ${signal}):\n${stderr}`));
      else resolve(events);
    });
  });
}

describe('LmdbMetaStore under SIGKILL', () => {
  it(`stays consistent and keeps acknowledged writes across ${ROUNDS} kills at random moments`, async () => {
    expect(existsSync(viteNode), `${viteNode} missing (vitest 3 installs it)`).toBe(true);
    const dir = join(tmp, 'store');
    const started = new Set<string>();
    const acked = new Set<string>();
    const removing = new Set<string>();
    const removed = new Set<string>();
    const owners = new Map<number, string>(); // id -> the one snapshot that ever had it
    let killedWhileWriting = 0;

    for (let round = 1; round <= ROUNDS; round++) {
      // Mostly a kill 0-250 ms into the write loop; every 6th round at any moment from spawn
      // (during start-up or while the store opens).
      const fromSpawn = round % 6 === 0;
      const events = await runAndKill(dir, round, Math.floor(Math.random() * (fromSpawn ? 1500 : 250)), fromSpawn);
      for (const line of events.lines) {
        const [event, tag] = line.split(' ');
        if (event === 'add-start') started.add(tag!);
        else if (event === 'add-ok') acked.add(tag!);
        else if (event === 'rm-start') removing.add(tag!);
        else if (event === 'rm-ok') removed.add(tag!);
      }
      const last = events.lines.at(-1) ?? '';
      if (/^(add|rm)-start /.test(last)) killedWhileWriting++;

      const store = await LmdbMetaStore.open(dir);
      try {
        const infos = await store.read((tx) => tx.list().map((info) => ({ info, id: tx.getInfo(info.name).id })));
        const byName = new Map(infos.map((e) => [e.info.name, e]));
        const present = new Set<string>();
        for (const { info, id } of infos) {
          // ids: one snapshot per id, ever (c/<tag> keeps the id of k/<tag>, which is never seen)
          const owner = owners.get(id);
          expect(owner === undefined || owner === info.name, `id ${id} held by ${owner} and ${info.name}`).toBe(true);
          owners.set(id, info.name);
          expect(info.name.startsWith('k/'), `active ${info.name} left behind by a half-applied write`).toBe(false);
          if (info.parent !== '') expect(byName.get(info.parent)?.info.kind).toBe('committed');
          const tag = info.name.slice(2);
          expect(info.labels['pair']).toBe(tag);
          expect(started.has(tag), `${info.name} was never written`).toBe(true);
          present.add(tag);
        }
        for (const tag of present) {
          // the pair is whole: both halves or neither
          expect(byName.get(`c/${tag}`)?.info.kind, `c/${tag}`).toBe('committed');
          expect(byName.get(`v/${tag}`)?.info).toMatchObject({ kind: 'view', parent: `c/${tag}` });
        }
        for (const tag of acked) if (!removing.has(tag)) expect(present.has(tag), `acknowledged pair ${tag} lost`).toBe(true);
        for (const tag of removed) expect(present.has(tag), `acknowledged removal of ${tag} undone`).toBe(false);
        // after the restart, new ids are above every id the store ever showed
        const fresh = await store.write((tx) => tx.create('active', `probe-${round}`, '', {}));
        expect(fresh.id).toBeGreaterThan(Math.max(0, ...owners.keys()));
        owners.set(fresh.id, `probe-${round}`);
        await store.write((tx) => tx.remove(`probe-${round}`));
      } finally {
        await store.close();
      }
    }
    console.log(
      `LmdbMetaStore crash test: ${ROUNDS} SIGKILLs, ${killedWhileWriting} inside a write transaction, ${acked.size} pairs acknowledged, ${removed.size} removed`,
    );
    expect(acked.size).toBeGreaterThan(ROUNDS);
    expect(killedWhileWriting).toBeGreaterThanOrEqual(10);
  }, 180_000);
});
