/**
 * The transaction machinery both metadata stores share (semantics in metastore.ts): one
 * writer at a time in call order, readers on the last committed state, and a write's changes
 * applied together when its callback resolves. A store that keeps its data elsewhere passes a
 * `persist` hook: it receives the change set of each write before the write becomes visible,
 * and a throw there fails the write with nothing applied.
 */
import { UnavailableError } from '../errors.js';
import type { MetaReader, MetaStore, MetaWriter } from './metastore.js';
import { StagedTx } from './metastore-tx.js';
import type { MetaState } from './snapshot-record.js';

export interface StagedStoreHooks {
  /** Make `tx`'s changes durable (one atomic write); called only when it changed something. */
  persist?(tx: StagedTx): Promise<void> | void;
  /** Release resources, after the last write settled. */
  release?(): Promise<void> | void;
}

export class StagedMetaStore implements MetaStore {
  #state: MetaState;
  readonly #hooks: StagedStoreHooks;
  #writer: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  constructor(initial: MetaState, hooks: StagedStoreHooks = {}) {
    this.#state = initial;
    this.#hooks = hooks;
  }

  async read<T>(fn: (tx: MetaReader) => T | Promise<T>): Promise<T> {
    this.#checkOpen();
    const tx = new StagedTx(this.#state, false);
    try {
      return await fn(tx);
    } finally {
      tx.finish();
    }
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
          this.#state = tx.staged();
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
