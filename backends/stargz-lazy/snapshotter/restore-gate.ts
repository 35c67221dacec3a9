/**
 * The stargz-lazy snapshotter while a restore (restore-remote-snapshots.ts) runs in the
 * background after start: a call that needs the layer of a snapshot still being restored
 * (`mounts`, `view` and `prepare` on it or above it, `prepare` of its chain id, `remove` of it)
 * waits for that layer first, at most `mountTimeoutMs` (then the call goes on and answers what
 * it would answer without the layer: UNAVAILABLE). Calls on other snapshots never wait.
 * `close` cancels the restore.
 */
import type { Call, Labels, Mount } from '../../../core/sdk.js';
import { errorCode } from './error-code.js';
import { targetOf } from './remote-request.js';
import type { RestoreRun, RestoreSummary } from './restore-remote-snapshots.js';
import { StargzSnapshotter, type StargzSnapshotterOptions } from './stargz-snapshotter.js';

/** How long `close` waits for a cancelled restore to wind down. */
const CLOSE_WAIT_MS = 5_000;

export class RestoreGatedSnapshotter extends StargzSnapshotter {
  readonly #waitMs: number;
  readonly #cancel = new AbortController();
  #restore: RestoreRun | undefined;

  constructor(o: StargzSnapshotterOptions) {
    super(o);
    this.#waitMs = o.mountTimeoutMs;
  }

  /** Start the restore (once); `start` receives the signal that `close` aborts. */
  startRestore(start: (signal: AbortSignal) => RestoreRun): RestoreRun {
    this.#restore ??= start(this.#cancel.signal);
    return this.#restore;
  }

  /** The summary of the restore started at open, `undefined` when none was started. */
  restored(): Promise<RestoreSummary> | undefined {
    return this.#restore?.done;
  }

  override async prepare(key: string, parent: string, labels: Labels, call?: Call): Promise<Mount[]> {
    const target = targetOf(labels ?? {});
    await this.#waitFor(target === undefined ? [parent] : [parent, target], call);
    return super.prepare(key, parent, labels, call);
  }

  override async view(key: string, parent: string, labels: Labels, call?: Call): Promise<Mount[]> {
    await this.#waitFor([parent], call);
    return super.view(key, parent, labels);
  }

  override async mounts(key: string, call?: Call): Promise<Mount[]> {
    await this.#waitFor([key], call);
    return super.mounts(key);
  }

  override async remove(key: string, call: Call): Promise<void> {
    await this.#waitFor([key], call);
    return super.remove(key, call);
  }

  override async close(): Promise<void> {
    const restore = this.#restore;
    this.#cancel.abort(new Error('stargz-lazy is closing'));
    if (restore !== undefined) await bounded(restore.done, CLOSE_WAIT_MS);
    await super.close();
  }

  /** Wait (bounded) until no snapshot at or below `names` is being restored. */
  async #waitFor(names: readonly string[], call: Call | undefined): Promise<void> {
    const restore = this.#restore;
    if (restore === undefined) return;
    const chain = await this.store.read((tx) => {
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
    const waited = await bounded(restore.settled(chain), this.#waitMs, call?.signal);
    if (!waited) call?.log.warn({ names: chain, waitMs: this.#waitMs }, 'a remote layer below is still being restored; going on without it');
  }
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
