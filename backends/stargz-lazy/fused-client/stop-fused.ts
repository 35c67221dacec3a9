/**
 * Stop the FUSE-serving process of a stargz-lazy root on purpose (`snaphost shutdown`, tests):
 * SIGTERM makes it stop answering, unmount every layer lazily and exit; after `timeoutMs` it
 * is killed. Layer mounts still left under `<root>/snapshots` then (the killed process's, or
 * those of one that died earlier and answer ENOTCONN) are detached. The process is found by
 * its control socket, or by its PID lock `<root>/fused.lock` when the socket does not answer.
 * `close()` of the snapshotter never does this: the process keeps serving running containers.
 */
import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { detachMount, mountsUnder } from '../../../core/sdk-overlay.js';
import { controlRequest } from './control-request.js';
import type { Status } from '../protocol/control-protocol.js';
import { fusedPaths } from '../protocol/root-layout.js';
import { generationsDir, GENERATION_ID } from '../protocol/generation.js';
import { lockOwner } from '../protocol/lock-owner.js';
import { keeperOf } from '../fuse-kernel/keeper/keeper-of.js';

export interface FusedStopResult {
  /** The process that was stopped, `undefined` when none was running. */
  pid: number | undefined;
  /** It did not exit within the timeout and was killed. */
  killed: boolean;
  /** Layer mounts detached after it was gone. */
  detached: number;
  /** Layer mounts that could not be detached. */
  stuck: string[];
  /** Processes of other generations stopped too (`fusedOnHost`). */
  others?: number[];
}

async function stopOne(dir: string, timeoutMs: number): Promise<{ pid: number | undefined; killed: boolean }> {
  const pid = (await fusedPid(dir)) ?? (await lockOwner(fusedPaths(dir).lock));
  // Under the connection keeper (fs.transport "kernel"): SIGTERM to the keeper, which forwards
  // it and starts nothing again; a kill then takes both.
  const keeper = pid === undefined ? undefined : await keeperOf(pid);
  let killed = false;
  if (pid !== undefined && signal(keeper ?? pid, 'SIGTERM')) {
    const deadline = Date.now() + timeoutMs;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    if (alive(pid)) {
      if (keeper !== undefined) signal(keeper, 'SIGKILL');
      killed = signal(pid, 'SIGKILL');
      while (alive(pid)) await sleep(20);
    }
  }
  return { pid, killed };
}

/** The PID of the process serving `root`, `undefined` when none answers. */
export async function fusedPid(root: string): Promise<number | undefined> {
  try {
    const status = (await controlRequest(fusedPaths(root).socket, 'GET', '/v1/status', undefined, { timeoutMs: 3_000 })) as Status;
    return status.pid;
  } catch {
    return undefined;
  }
}

/** Stops the process of `root`; resolves `false` when none was running (nothing to stop). */
export async function stopFused(root: string, o: { timeoutMs?: number } = {}): Promise<boolean> {
  return (await shutdownFused(root, o)).pid !== undefined;
}

/** Stops the process of `root` and releases every layer mount left under it. */
export async function shutdownFused(root: string, o: { timeoutMs?: number } = {}): Promise<FusedStopResult> {
  const dir = await realpath(root).catch(() => path.resolve(root));
  // The root's own process, and with `fusedOnHost` one per generation (generation.ts).
  const generations = (await readdir(generationsDir(dir)).catch(() => [])).filter((id) => GENERATION_ID.test(id));
  const dirs = [dir, ...generations.map((id) => path.join(generationsDir(dir), id))];
  const stops = await Promise.all(dirs.map((d) => stopOne(d, o.timeoutMs ?? 10_000)));
  const stopped = stops.filter((s) => s.pid !== undefined);
  const result: FusedStopResult = { pid: stopped[0]?.pid, killed: stopped.some((s) => s.killed), detached: 0, stuck: [] };
  if (stopped.length > 1) result.others = stopped.slice(1).map((s) => s.pid!);
  for (const m of (await mountsUnder(path.join(dir, 'snapshots'))).reverse()) {
    if (!m.fstype.startsWith('fuse')) continue;
    try {
      await detachMount(m.mountpoint);
      result.detached++;
    } catch {
      result.stuck.push(m.mountpoint);
    }
  }
  return result;
}

/** One line for `snaphost shutdown`. */
export function describeStop(root: string, r: FusedStopResult): string {
  const what =
    r.pid === undefined
      ? `no FUSE-serving process was running for ${root}`
      : r.killed
        ? `the FUSE-serving process ${r.pid} of ${root} did not exit in time and was killed`
        : `stopped the FUSE-serving process ${r.pid} of ${root} (it unmounted its layers lazily)`;
  const others = r.others?.length ? ` and the process(es) ${r.others.join(', ')} of older generations` : '';
  const mounts = r.detached > 0 ? `; detached ${r.detached} layer mount(s) left behind` : '';
  const stuck = r.stuck.length > 0 ? `; could not detach ${r.stuck.join(', ')}` : '';
  return what + others + mounts + stuck;
}

function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // already gone
  }
}

function alive(pid: number): boolean {
  return signal(pid, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
