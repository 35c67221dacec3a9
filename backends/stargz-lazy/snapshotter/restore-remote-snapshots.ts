/**
 * Restore on start: the FUSE-serving process died (a crash, kill -9, an OOM kill, a reboot)
 * and took the layer mounts of the remote snapshots with it. Their records are still in the
 * store with every label containerd sent at prepare (reference, digest, TOC digest, URLs), which
 * is all a mount needs: each layer is mounted again through the process (started when none
 * answers), its chunk cache on disk reused.
 *
 * - Bottom first, `concurrency` layers at a time; each layer at most `mountTimeoutMs`, the whole
 *   restore at most `RESTORE_DEADLINE_FACTOR` × `mountTimeoutMs`, so a dead or slow registry
 *   bounds it. It runs in the background: snaphost serves meanwhile (see restore-gate.ts).
 * - A snapshot that cannot be restored stays recorded: calls on it answer UNAVAILABLE, as before
 *   the restore; one error line names it and the reason. A summary line closes the restore.
 * - If the process cannot be started at all, the remaining layers fail at once with that reason.
 */
import type { Logger } from '../../../core/sdk.js';
import type { LmdbMetaStore, OverlayLayout } from '../../../core/sdk-overlay.js';
import { describeError } from './error-code.js';
import type { FusedLink, FusedMounter } from '../fused-client/fused-link.js';
import { LABEL_TOC_DIGEST, remoteRequestFromLabels } from './remote-request.js';
import { findRestoreCandidates, type RemoteSnapshot } from './restore-candidates.js';
import { restoreFailureOf, type RestoreFailure } from './restore-failure.js';

/** The whole restore ends after this many times `mountTimeoutMs` (layers still mounting then fail as `timeout`). */
export const RESTORE_DEADLINE_FACTOR = 2;

export interface RestoreOptions {
  store: LmdbMetaStore;
  layout: OverlayLayout;
  fused: FusedLink;
  log: Logger;
  /** Bound on one layer's mount (the backend's `mountTimeoutMs`). */
  mountTimeoutMs: number;
  /** Prefetch bound sent with each mount, as at prepare. */
  prefetchBytes: number;
  /** Mount again layers without a TOC digest label (options.ts `allowUnverifiedLayers`), as at prepare. */
  allowUnverifiedLayers: boolean;
  /** Layers mounted at the same time. */
  concurrency: number;
  /** Aborts the restore (the backend closes). */
  signal: AbortSignal;
}

export interface RestoreSummary {
  /** Names of the snapshots mounted again. */
  restored: string[];
  /** Snapshots left unserved, with the reason. */
  failed: ({ name: string; mountpoint: string } & RestoreFailure)[];
  /** Remote snapshots whose layer was served already (the process kept running). */
  served: number;
  ms: number;
}

export interface RestoreRun {
  /** The summary once every layer is mounted or has failed; never rejects. */
  readonly done: Promise<RestoreSummary>;
  /** Resolves once none of `names` is still waiting for or in its restore. */
  settled(names: readonly string[]): Promise<void>;
}

export function restoreRemoteSnapshots(o: RestoreOptions): RestoreRun {
  let publish!: (pending: ReadonlyMap<string, Promise<void>>) => void;
  const pendingKnown = new Promise<ReadonlyMap<string, Promise<void>>>((resolve) => (publish = resolve));
  const done = run(o, publish).catch((err: unknown) => {
    // Not expected (each layer's errors are caught): say so, never leave a waiter hanging.
    o.log.error({ err }, 'restoring remote snapshots failed');
    publish(new Map());
    return { restored: [], failed: [], served: 0, ms: 0 } satisfies RestoreSummary;
  });
  return {
    done,
    async settled(names) {
      const pending = await pendingKnown;
      await Promise.all(names.map((n) => pending.get(n)).filter((p) => p !== undefined));
    },
  };
}

async function run(o: RestoreOptions, publish: (pending: ReadonlyMap<string, Promise<void>>) => void): Promise<RestoreSummary> {
  const started = Date.now();
  const summary: RestoreSummary = { restored: [], failed: [], served: 0, ms: 0 };
  // A failed look-up rejects; restoreRemoteSnapshots then publishes an empty map for the waiters.
  const candidates = await findRestoreCandidates(o.store, o.layout);
  const finishers = new Map<string, () => void>();
  publish(new Map(candidates.toRestore.map((s) => [s.name, new Promise<void>((resolve) => finishers.set(s.name, resolve))])));
  summary.served = candidates.served.length;
  for (const f of candidates.failed) fail(o.log, summary, f, f);
  if (candidates.toRestore.length === 0 && candidates.failed.length === 0) return summary;

  const deadline = AbortSignal.timeout(RESTORE_DEADLINE_FACTOR * o.mountTimeoutMs);
  const restoring = { fusedDown: undefined as RestoreFailure | undefined };
  const queue = [...candidates.toRestore];
  const worker = async () => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      try {
        const failure = restoring.fusedDown ?? (await restoreOne(o, s, deadline));
        if (failure === undefined) {
          summary.restored.push(s.name);
        } else {
          if (failure.reason === 'fused-unreachable') restoring.fusedDown = failure;
          fail(o.log, summary, s, failure);
        }
      } finally {
        finishers.get(s.name)?.();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, queue.length)) }, worker));
  summary.ms = Date.now() - started;
  const line = `restore of remote snapshots: ${summary.restored.length} restored, ${summary.failed.length} failed, ${summary.served} already served, ${summary.ms} ms`;
  const fields = { restored: summary.restored.length, failed: summary.failed.length, served: summary.served, ms: summary.ms };
  if (summary.failed.length > 0) o.log.warn(fields, line);
  else o.log.info(fields, line);
  return summary;
}

/** Mount one layer again; the reason it failed, `undefined` when it is served. */
async function restoreOne(o: RestoreOptions, s: RemoteSnapshot, deadline: AbortSignal): Promise<RestoreFailure | undefined> {
  let request;
  try {
    request = remoteRequestFromLabels(s.labels, o.prefetchBytes);
  } catch (err) {
    return { reason: 'labels-invalid', message: `its recorded labels are invalid: ${describeError(err)}` };
  }
  if (request === undefined) {
    return { reason: 'labels-missing', message: 'its recorded labels do not name a blob (no image reference and layer digest)' };
  }
  if (request.tocDigest === undefined && !o.allowUnverifiedLayers) {
    // Mounted when such layers were allowed; its TOC would be fetched again now, unchecked.
    return {
      reason: 'unverified-layer',
      message: `its recorded labels have no ${LABEL_TOC_DIGEST}, so its TOC cannot be checked against the image manifest (allowUnverifiedLayers is false)`,
    };
  }
  if (o.signal.aborted) return { reason: 'cancelled', message: 'cancelled: the backend is closing' };
  const timeout = AbortSignal.timeout(o.mountTimeoutMs);
  const signal = AbortSignal.any([o.signal, deadline, timeout]);
  const started = Date.now();
  try {
    for (let attempt = 1; ; attempt++) {
      let fused: FusedMounter;
      try {
        fused = await o.fused.get(signal);
      } catch (err) {
        if (signal.aborted) throw err;
        return { reason: 'fused-unreachable', message: `the FUSE-serving process could not be started or reached: ${describeError(err)}` };
      }
      try {
        await fused.mount({ ...request, mountpoint: s.mountpoint }, signal);
        break;
      } catch (err) {
        if ((err as { reason?: unknown } | null)?.reason !== 'FUSED_UNREACHABLE' || attempt >= 2 || signal.aborted) throw err;
        o.fused.reset(fused);
        o.log.warn({ err }, 'the FUSE-serving process does not answer; starting it again');
      }
    }
  } catch (err) {
    return restoreFailureOf(err, { timedOut: timeout.aborted || deadline.aborted, cancelled: o.signal.aborted, timeoutMs: o.mountTimeoutMs });
  }
  o.log.info({ snapshot: s.name, mountpoint: s.mountpoint, digest: request.digest, reference: request.reference, ms: Date.now() - started }, `restored remote snapshot ${s.name}`);
  return undefined;
}

function fail(log: Logger, summary: RestoreSummary, s: Pick<RemoteSnapshot, 'name' | 'mountpoint'>, f: RestoreFailure): void {
  summary.failed.push({ name: s.name, mountpoint: s.mountpoint, reason: f.reason, message: f.message });
  log.error(
    { snapshot: s.name, mountpoint: s.mountpoint, reason: f.reason },
    `remote snapshot ${s.name} could not be restored (${f.reason}): ${f.message}. ` +
      'Calls on it answer UNAVAILABLE; restart snaphost once the cause is fixed, or remove the image and pull it again',
  );
}
