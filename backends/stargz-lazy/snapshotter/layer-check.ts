/**
 * `LayerHook.check` of stargz-lazy: whether every remote layer at or below a snapshot can be
 * read in full. First mounted and answering (its FUSE process stopped, which unmounts, or
 * died, which leaves a mount that answers ENOTCONN; statfs, unlike stat or access, is never
 * answered from the kernel's caches): overlay would otherwise show an empty directory, or fail
 * at mount time with an errno. Then the FUSE process says whether each can be read in full
 * (fully cached, or its registry reachable, asked bounded and memoized per blob): reads of a
 * layer that is neither would fail with EIO. Otherwise UNAVAILABLE naming the snapshot, the
 * layer, the image and why. An answer (or a mount) of the last second through a still-attached
 * process is not asked again (`CheckedLayers`): the next layer of a pull goes on the one just
 * mounted.
 */
import { statfs } from 'node:fs/promises';
import { UnavailableError, type Call } from '../../../core/sdk.js';
import type { FusedLayerCheck, FusedLink, FusedMounter } from '../fused-client/fused-link.js';
import type { CheckedLayers } from './checked-layers.js';
import { describeError, errorCode, isFusedUnreachable } from './error-code.js';
import { remoteLayerOfLabels } from './remote-request.js';
import { mountsUnder, type RemoteLayerRef } from '../../../core/sdk-overlay.js';

/** Unavailable layers named in one UNAVAILABLE message; the rest are counted. */
const MAX_NAMED_PROBLEMS = 3;

/** Bound on a layer root's statfs: a live FUSE process answers at once. */
const STATFS_TIMEOUT_MS = 5_000;

export interface LayerCheckDeps {
  fused: FusedLink;
  checked: CheckedLayers;
  /** `<root>/snapshots`: where the layers are mounted. */
  snapshotsDir: string;
}

/** UnavailableError when one of `layers` (nearest first) is not served or cannot be read in full. */
export async function checkLayers(d: LayerCheckDeps, layers: readonly RemoteLayerRef[], call: Call): Promise<void> {
  if (layers.length === 0) return;
  const fused = await d.fused.running().catch(() => undefined);
  const mountpoints = layers.map((r) => r.mountpoint);
  if (d.checked.holds(mountpoints, fused)) return;
  const mounted = new Set((await mountsUnder(d.snapshotsDir)).map((m) => m.mountpoint));
  for (const r of layers) {
    const problem = !mounted.has(r.mountpoint) ? 'is not mounted' : await unanswered(r.mountpoint);
    if (problem !== undefined) {
      throw new UnavailableError(
        `remote snapshot ${JSON.stringify(r.name)}: its layer ${problem} at ${r.mountpoint}; the FUSE-serving process stopped or died. ` +
          'Remove the snapshots on it and pull the image again',
      );
    }
  }
  const checks = await availability(d.fused, fused, mountpoints, call.signal);
  if (checks === undefined) return;
  const problems = layers.flatMap((r, i) => {
    const c = checks[i]!;
    if (c.available) return [];
    const named = remoteLayerOfLabels(r.labels);
    const layer = c.digest ?? named.digest ?? 'unknown digest';
    const image = c.reference ?? named.reference;
    return [`remote snapshot ${JSON.stringify(r.name)}: layer ${layer}${image ? ` of ${image}` : ''} is unavailable: ${c.reason ?? 'no reason given'}`];
  });
  if (problems.length === 0) {
    if (fused !== undefined) d.checked.note(mountpoints, fused);
    return;
  }
  const more = problems.length > MAX_NAMED_PROBLEMS ? `; and ${problems.length - MAX_NAMED_PROBLEMS} more remote layers` : '';
  throw new UnavailableError(problems.slice(0, MAX_NAMED_PROBLEMS).join('; ') + more);
}

/**
 * The FUSE process's availability answer for `mountpoints`; undefined when it cannot give one
 * that means anything: not running (the statfs check passed, so a process serves the mounts;
 * a restarted link finds it next time) or too old to know the request.
 */
async function availability(link: FusedLink, fused: FusedMounter | undefined, mountpoints: string[], signal: AbortSignal): Promise<FusedLayerCheck[] | undefined> {
  if (fused === undefined) return undefined;
  try {
    return await fused.check(mountpoints, signal);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (errorCode(err) === 'NOT_FOUND') return undefined;
    if (isFusedUnreachable(err)) link.reset(fused);
    throw new UnavailableError(`cannot tell whether the remote layers are available: ${describeError(err)}`, { cause: err });
  }
}

/** Why the FUSE mount at `fs` does not answer statfs, `undefined` when it does. */
async function unanswered(fs: string): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`does not answer within ${STATFS_TIMEOUT_MS} ms`), STATFS_TIMEOUT_MS);
  });
  const answer = statfs(fs).then(
    () => undefined,
    (err: unknown) => `does not answer (${errorCode(err) ?? describeError(err)})`,
  );
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}
