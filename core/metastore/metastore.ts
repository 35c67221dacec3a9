/**
 * A snapshot metadata store with containerd's storage semantics
 * (containerd: snapshots/storage/metastore.go + bolt.go), for backends to share.
 *
 * The store owns names, parents, kinds, labels, times and recorded usage, and answers every
 * naming error; the backend only makes directories and mounts. Each snapshot gets a small
 * numeric `id` that the backend uses for its directories (NEVER the key: keys are opaque
 * strings such as `default/12/extract-1 sha256:…`).
 *
 * ## Transactions
 * All access goes through a transaction, like containerd's `TransactionContext`:
 * ```ts
 * const mounts = await store.write(async (tx) => {
 *   const s = tx.create('active', key, parent, labels);   // sync: NotFound / AlreadyExists / …
 *   await fs.rename(tempDir, dirOf(s.id));                // file-system work inside the tx
 *   return mountsOf(s);
 * });                                                     // committed when the callback resolves
 * ```
 * - `write(fn)`: write transactions run one at a time, in call order. Changes are visible to
 *   other transactions only once `fn` resolves; when `fn` throws or rejects, every change it
 *   made is discarded (so a failed rename leaves no record behind, and a record never names a
 *   directory that was not made). The callback may await file-system work.
 * - `read(fn)`: sees the last committed state; runs at once, concurrently with a write.
 * - The transaction methods themselves are synchronous. That fits an in-memory store and an
 *   on-disk one alike (LMDB reads are synchronous; a store stages the writes of `fn` and
 *   applies them in one synchronous database transaction when `fn` resolves). A transaction
 *   object must not be used after its callback settled.
 *
 * ## Errors (thrown by the transaction methods; classes of core/contract/errors.ts)
 * | method      | error                                                                           |
 * | ----------- | ------------------------------------------------------------------------------- |
 * | any         | InvalidArgumentError: empty key/name, label too long or not a string           |
 * | create      | NotFoundError: parent missing; InvalidArgumentError: parent not committed;     |
 * |             | AlreadyExistsError: key taken (keys and committed names share one namespace)   |
 * | commit      | AlreadyExistsError: name taken; NotFoundError: key missing;                     |
 * |             | FailedPreconditionError: key is not active (a view or committed)               |
 * | remove      | NotFoundError; FailedPreconditionError "cannot remove snapshot with child"     |
 * | getInfo     | NotFoundError                                                                   |
 * | getSnapshot | NotFoundError; FailedPreconditionError when it is committed                    |
 * | update      | NotFoundError; InvalidArgumentError for a field path other than labels[.key]   |
 */
import type { Info, InfoUpdate, Kind, Labels, Usage } from '../contract/snapshotter.js';

/** An active or view snapshot as its backend needs it to build mounts. */
export interface SnapshotRef {
  /** Small positive integer, unique for the life of the store, never reused. */
  id: number;
  kind: Exclude<Kind, 'committed'>;
  /** Ids of every committed ancestor, nearest (the direct parent) first; [] for none. */
  parentIds: number[];
}

/** What `getInfo` returns: the info, the id, and the usage recorded at commit. */
export interface StoredInfo {
  id: number;
  info: Info;
  /** Usage recorded by `commit` ({0,0} for active and view snapshots: measure those live). */
  usage: Usage;
}

/** Reads, in any transaction. */
export interface MetaReader {
  /** Info of `key` (active, view or committed). */
  getInfo(key: string): StoredInfo;
  /** Id, kind and ancestors of the active or view snapshot `key`. */
  getSnapshot(key: string): SnapshotRef;
  /** Every snapshot's info, as a new array (safe to keep after the transaction). */
  list(): Info[];
  /** Every id in use (to find directories of removed snapshots). */
  ids(): number[];
}

/** Reads and writes, in a write transaction. */
export interface MetaWriter extends MetaReader {
  /** Record a new active or view snapshot `key` on top of committed `parent` ('' for none). */
  create(kind: Exclude<Kind, 'committed'>, key: string, parent: string, labels: Labels): SnapshotRef;
  /**
   * Turn active `key` into committed `name`, keeping its id (the key is gone afterwards).
   * `labels` replace the active snapshot's labels (containerd does not inherit them);
   * `created` and `updated` are set to now; `usage` is recorded.
   */
  commit(key: string, name: string, usage: Usage, labels: Labels): { id: number };
  /** Forget `key`; returns its id and kind so the backend can remove its directory. */
  remove(key: string): { id: number; kind: Kind };
  /** Apply an `Update` (see `applyLabelUpdate`), set `updated` to now, return the new info. */
  update(update: InfoUpdate, fieldpaths: readonly string[]): Info;
}

export interface MetaStore {
  /** Run `fn` on the last committed state. */
  read<T>(fn: (tx: MetaReader) => T | Promise<T>): Promise<T>;
  /** Run `fn` as the only writer; commit its changes when it resolves, discard them when it throws. */
  write<T>(fn: (tx: MetaWriter) => T | Promise<T>): Promise<T>;
  /** Release the store (waits for the running write). Later calls reject. */
  close(): Promise<void>;
}
