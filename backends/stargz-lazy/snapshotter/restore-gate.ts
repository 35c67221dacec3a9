/**
 * The stargz-lazy snapshotter while a restore (restore-remote-snapshots.ts) runs in the
 * background after start: a wrapper around the snapshotter in which a call that needs the layer
 * of a snapshot still being restored (`mounts`, `view` and `prepare` on it or above it,
 * `prepare` of its chain id, `remove` of it) waits for that layer first, at most `waitMs` (then
 * the call goes on and answers what it would answer without the layer: UNAVAILABLE). Calls on
 * other snapshots never wait. `close` cancels the restore, then closes the snapshotter.
 */
import type { Call, Labels, Mount, Snapshotter, SnapshotterStatus } from '../../../core/sdk.js';
import type { MetaStore } from '../../../core/sdk-overlay.js';
import { errorCode } from './error-code.js';
import { targetOf } from './remote-request.js';
import type { RestoreRun, RestoreSummary } from './restore-remote-snapshots.js';

/** How long `close` waits for a cancelled restore to wind down. */
const CLOSE_WAIT_MS = 5_000;

export interface RestoreGateOptions {
  /** The snapshotter's store, only read: which snapshots lie below a name. */
  store: Pick<MetaStore, 'read'>;
  /** Bound on one call's wait (the backend's `mountTimeoutMs`). */
  waitMs: number;
  /** Starts the restore, now; `signal` is aborted by `close`. */
  restore: (signal: AbortSignal) => RestoreRun;
}

/** A snapshotter whose calls wait for the restore at start (see the file's comment). */
export interface RestoreGated extends Snapshotter {
  prepare(key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]>;
  view(key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]>;
  mounts(key: string, call: Call): Promise<Mount[]>;
  remove(key: string, call: Call): Promise<void>;
  cleanup(call: Call): Promise<void>;
  status(call: Call): Promise<SnapshotterStatus>;
  /** Cancels the restore, then closes the snapshotter. */
  close(): Promise<void>;
  /** The summary of the restore started at open. */
  restored(): Promise<RestoreSummary>;
}

export function gateOnRestore(inner: Snapshotter, o: RestoreGateOptions): RestoreGated {
  const cancel = new AbortController();
  const restore = o.restore(cancel.signal);
  /** Once the restore is over no call waits: the look-up of the names below is skipped. */
  let over = false;
  void restore.done.then(() => (over = true));

  /** Wait (bounded) until no snapshot at or below `names` is being restored. */
  async function waitFor(names: readonly string[], call: Call): Promise<void> {
    if (over) return;
    const chain = await o.store.read((tx) => {
      const out = new Set<string>();
      for (const start of names) {
        try {
          for (let n = start; n !== '' && !out.has(n); n = tx.getInfo(n).info.parent) out.add(n);
        } catch (err) {
          if (errorCode(err) !== 'NOT_FOUND') throw err; // a missing name is the call's own error to give
        }
      }
      return [...out];
    });
    if (chain.length === 0) return;
    const waited = await bounded(restore.settled(chain), o.waitMs, call.signal);
    if (!waited) call.log.warn({ names: chain, waitMs: o.waitMs }, 'a remote layer below is still being restored; going on without it');
  }

  const gated: RestoreGated = {
    stat: (key, call) => inner.stat(key, call),
    update: (info, fieldpaths, call) => inner.update(info, fieldpaths, call),
    usage: (key, call) => inner.usage(key, call),
    commit: (name, key, labels, call) => inner.commit(name, key, labels, call),
    list: (filter, call) => inner.list(filter, call),
    async prepare(key: string, parent: string, labels: Labels, call: Call) {
      const target = targetOf(labels ?? {});
      await waitFor(target === undefined ? [parent] : [parent, target], call);
      return inner.prepare(key, parent, labels, call);
    },
    async view(key: string, parent: string, labels: Labels, call: Call) {
      await waitFor([parent], call);
      return inner.view(key, parent, labels, call);
    },
    async mounts(key: string, call: Call) {
      await waitFor([key], call);
      return inner.mounts(key, call);
    },
    async remove(key: string, call: Call) {
      await waitFor([key], call);
      return inner.remove(key, call);
    },
    cleanup: async (call) => inner.cleanup?.(call),
    status: async (call) => (await inner.status?.(call)) ?? {},
    restored: () => restore.done,
    async close() {
      cancel.abort(new Error('stargz-lazy is closing'));
      await bounded(restore.done, CLOSE_WAIT_MS);
      await inner.close?.();
    },
  };
  return gated;
}

/** True when `p` settled within `ms` (and before `signal` aborted). */
async function bounded(p: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    onAbort = () => resolve(false);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
}
