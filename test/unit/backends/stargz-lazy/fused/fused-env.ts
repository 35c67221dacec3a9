/**
 * Shared pieces of the FUSE-serving process tests: the command that runs main.ts from source
 * (vite-node, so no build is needed), a quiet logger, child-process helpers (every look at a
 * mount goes through a separate process, never through the test's own event loop), and the
 * clean-up of processes (by PID) and mounts the tests made.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { readMountTable } from '../../../../../core/mounts/mount-table.js';
import { sha256 } from '../registry/servers/docker-registry.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';

export const repo = fileURLToPath(new URL('../../../../../', import.meta.url));
export const fixtures = `${repo}test/fixtures/estargz/`;

/** main.ts through vite-node; `--root <dir>` is appended by the client after `--`. */
export const fusedCommand = [
  process.execPath,
  `${repo}node_modules/vite-node/dist/cli.mjs`,
  '--root',
  repo,
  `${repo}backends/stargz-lazy/fused/main.ts`,
  '--',
];

export const quietLog = pino({ level: 'silent' });

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in a child process; never throws for a non-zero exit. */
export function run(command: string, args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readMountTable();
  return table.filter((m) => m.mountpoint === dir || m.mountpoint.startsWith(`${dir}/`)).map((m) => m.mountpoint);
}

/** Lazily unmounts everything under `dir`, deepest first. */
export async function unmountAllUnder(dir: string): Promise<void> {
  const mounts = (await mountsUnder(dir)).sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM `pid` (a process this test started), then SIGKILL if it has not exited after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 5_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid) && (await isZombieFree(pid))) await new Promise((r) => setTimeout(r, 50));
}

/** False once `pid` is a zombie (exited, not yet reaped by init): it is gone for our purposes. */
async function isZombieFree(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until `predicate` holds (polling), or fails after `timeoutMs`. */
export async function eventually(predicate: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The usual end of a test file: its FUSE process stopped (by PID), whatever it left mounted
 * under `tmp` unmounted, `tmp` removed, its blob server closed.
 */
export async function tearDown(o: { pid?: number | undefined; tmp?: string | undefined; server?: { server: { listening: boolean }; close(): Promise<void> } | undefined }): Promise<void> {
  if (o.pid !== undefined) await stopProcess(o.pid);
  if (o.tmp) {
    await unmountAllUnder(o.tmp);
    await rm(o.tmp, { recursive: true, force: true });
  }
  if (o.server?.server.listening) await o.server.close();
}

/**
 * For a test file: a temp directory, a loopback blob server serving `fixtures/full.estargz`
 * (its digest), and the set of FUSE processes the tests start; after the file, each process is
 * stopped, the mounts under the directory are detached and everything removed.
 */
export function fusedTestBed(prefix: string): { readonly tmp: string; readonly digest: string; readonly server: BlobServer; readonly started: Set<number> } {
  const bed = { tmp: '', digest: '', server: undefined as BlobServer | undefined, started: new Set<number>() };
  beforeAll(async () => {
    bed.tmp = await mkdtemp(join(tmpdir(), prefix));
    const blob = await readFile(`${fixtures}full.estargz`);
    bed.digest = sha256(blob);
    bed.server = await startBlobServer((req, res) => serveBlob(req, res, blob));
  });
  afterAll(async () => {
    for (const pid of bed.started) await stopProcess(pid);
    if (bed.tmp) {
      await unmountAllUnder(bed.tmp);
      await rm(bed.tmp, { recursive: true, force: true });
    }
    await bed.server?.close();
  }, 30_000);
  return {
    get tmp() {
      return bed.tmp;
    },
    get digest() {
      return bed.digest;
    },
    get server() {
      return bed.server!;
    },
    started: bed.started,
  };
}
