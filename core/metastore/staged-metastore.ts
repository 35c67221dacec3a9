/**
 * The transaction machinery both metadata stores share (semantics in metastore.ts): one
 * writer at a time in call order, readers on the last committed state, and a write's changes
 * applied together when its callback resolves. A store that keeps its data elsewhere passes a
 * `persist` hook: it receives the change set of each write before the write becomes visible,
 * and a throw there fails the write with nothing applied.
 *
 * A write costs O(its changes), not O(snapshots): its change set is applied to the committed
 * records in place, in one synchronous loop once it is persisted, so no transaction ever sees
 * half of it. Readers see a stable state: a read whose callback returns synchronously (the
 * usual case) is over before any write can apply; when one that awaits is still running on
 * the records, the commit copies them first (O(snapshots), once) and leaves it the old map.
 */
import { UnavailableError } from '../contract/errors.js';
import type { MetaReader, MetaStore, MetaWriter } from './metastore.js';
import { StagedTx } from './metastore-tx.js';
import type { MetaState, SnapshotRecord } from './snapshot-record.js';

export interface StagedStoreHooks {
  /** Make `tx`'s changes durable (one atomic write); called only when it changed something. */
  persist?(tx: StagedTx): Promise<void> | void;
  /** Release resources, after the last write settled. */
  release?(): Promise<void> | void;
}

export class StagedMetaStore implements MetaStore {
  /** The committed records, owned by the store: changed in place when no reader holds them. */
  #records: Map<string, SnapshotRecord>;
  #state: MetaState;
  /** Read transactions running on `#records` (the current map). */
  #readers = 0;
  readonly #hooks: StagedStoreHooks;
  #writer: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  constructor(initial: MetaState, hooks: StagedStoreHooks = {}) {
    this.#records = new Map(initial.records);
    this.#state = { records: this.#records, nextId: initial.nextId };
    this.#hooks = hooks;
  }

  read<T>(fn: (tx: MetaReader) => T | Promise<T>): Promise<T> {
    try {
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const records = this.#records;
    const tx = new StagedTx(this.#state, false);
    this.#readers++;
    const done = (): void => {
      tx.finish();
      if (records === this.#records) this.#readers--;
    };
    let out: T | Promise<T>;
    try {
      out = fn(tx);
    } catch (err) {
      done();
      return Promise.reject(err);
    }
    if (!isPromiseLike(out)) {
      // Finished synchronously (the usual case): release the records before any write can run.
      done();
      return Promise.resolve(out);
    }
    return Promise.resolve(out).finally(done);
  }

  write<T>(fn: (tx: MetaWriter) => T | Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.#checkOpen();
      const tx = new StagedTx(this.#state, true);
      try {
        const result = await fn(tx);
        tx.finish();
        if (!tx.unchanged) {
          await this.#hooks.persist?.(tx);
          this.#apply(tx);
        }
        return result;
      } finally {
        tx.finish();
      }
    };
    const result = this.#writer.then(run, run);
    this.#writer = result.catch(() => undefined);
    return result;
  }

  /** Make `tx`'s persisted changes the committed state (synchronous: all or nothing is seen). */
  #apply(tx: StagedTx): void {
    if (this.#readers > 0) {
      this.#records = new Map(this.#records);
      this.#readers = 0;
    }
    tx.applyTo(this.#records);
    this.#state = { records: this.#records, nextId: tx.nextId };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#writer;
      await this.#hooks.release?.();
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing) throw new UnavailableError('snapshot metadata store is closed');
  }
}

function isPromiseLike<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
