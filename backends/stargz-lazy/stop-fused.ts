/**
 * Stop the FUSE-serving process of a stargz-lazy root on purpose (tests, an explicit
 * shutdown): SIGTERM makes it stop answering, unmount every layer lazily and exit; after
 * `timeoutMs` it is killed and the layer mounts it left under `<root>/snapshots` are detached.
 * `close()` of the snapshotter never does this: the process keeps serving running containers.
 */
import path from 'node:path';
import { controlRequest } from './fused/control-request.js';
import type { Status } from './fused/control-protocol.js';
import { fusedPaths } from './fused/root-layout.js';
import { detachMount, mountsUnder } from './mount-table.js';

/** The PID of the process serving `root`, `undefined` when none answers. */
export async function fusedPid(root: string): Promise<number | undefined> {
  try {
    const status = (await controlRequest(fusedPaths(root).socket, 'GET', '/v1/status', undefined, { timeoutMs: 3_000 })) as Status;
    return status.pid;
  } catch {
    return undefined;
  }
}

/** Stops the process of `root`; resolves `false` when none answered (nothing to stop). */
export async function stopFused(root: string, o: { timeoutMs?: number } = {}): Promise<boolean> {
  const pid = await fusedPid(root);
  if (pid === undefined) return false;
  if (!signal(pid, 'SIGTERM')) return true;
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) {
    signal(pid, 'SIGKILL');
    while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
    for (const m of await mountsUnder(path.join(root, 'snapshots'))) await detachMount(m.mountpoint).catch(() => undefined);
  }
  return true;
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
