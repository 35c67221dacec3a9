/**
 * Generations of the FUSE-serving process when it runs on the host (`fusedOnHost.enabled`):
 * each build of snaphost whose fused differs (another runtime content id, runtime-copy.ts) gets
 * its own process and its own directory,
 *
 *   <root>/generations/<id>/fused.json, fused.sock, fused.lock, fused.log, cache/
 *
 * so that an upgrade leaves the old process serving the layers it mounted while the new one
 * serves new mounts. The chunk cache is per generation: ChunkCache's index (what `has` answers
 * from, filled by a scan at open) and its disk cap live in one process's memory, so a second
 * process's chunks would be invisible to it and each would cap and evict against its own
 * count; two processes never share one. Without `fusedOnHost` the process serves `<root>` itself
 * (root-layout.ts) and there is one generation.
 *
 * FUSED_PROTOCOL_VERSION: the control protocol this build speaks; a process reports it (and
 * its generation) in `GET /v1/status`. A process with another generation or protocol serves
 * only what it mounted.
 */
import { join } from 'node:path';
import { fusedPaths, type FusedPaths } from './root-layout.js';

export const FUSED_PROTOCOL_VERSION = 1;

/** Environment of a process started for a generation: its id, and the cgroup to move into. */
export const GENERATION_ENV = 'SNAPHOST_FUSED_GENERATION';
export const CGROUP_ENV = 'SNAPHOST_FUSED_CGROUP';

/** A generation id: lower-case hex, as runtime-copy.ts makes them. */
export const GENERATION_ID = /^[0-9a-f]{8,64}$/;

export function generationsDir(root: string): string {
  return join(root, 'generations');
}

export function generationPaths(root: string, id: string): FusedPaths & { dir: string } {
  if (!GENERATION_ID.test(id)) throw new Error(`not a generation id: ${JSON.stringify(id)}`);
  const dir = join(generationsDir(root), id);
  return { dir, ...fusedPaths(dir) };
}
