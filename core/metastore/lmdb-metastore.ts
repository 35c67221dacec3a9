/**
 * The durable `MetaStore` (semantics in metastore.ts, identical to `MemoryMetaStore`'s: both
 * run the same transaction code) on LMDB, the same copy-on-write B+tree design as containerd's
 * bbolt.
 *
 * Design: the whole database is read into an in-memory index when the store opens (checked
 * record by record, see lmdb/load-state.ts), so reads and List never touch the disk. A write
 * transaction stages its changes in memory; when its callback resolves, the changes (and the
 * id counter) are written in ONE LMDB transaction, and only once that transaction is committed
 * and fsynced do they become visible and does `write()` resolve. A `kill -9` at any moment
 * therefore leaves either all of a write transaction or none of it, and an id once handed out
 * is never handed out again, across restarts too.
 *
 * One process, one opener: the index is not refreshed from other writers, so opening the same
 * directory twice in a process is refused (the daemon's root lock covers other processes).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
// lmdb is imported when a store is opened, not when the SDK is: processes that never open a
// store (the stargz-lazy FUSE process, a daemon serving only `memory`) do not pay for it.
import type { RootDatabase } from 'lmdb';
import { describe, FailedPreconditionError, InvalidArgumentError } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { loadState } from './lmdb/load-state.js';
import { recordWrites } from './lmdb/persist-changes.js';
import { META_DB, NEXT_ID_KEY, SNAPSHOTS_DB, type LmdbTables } from './lmdb/schema.js';
import type { StagedTx } from './metastore-tx.js';
import type { MetaState } from './snapshot-record.js';
import { StagedMetaStore } from './staged-metastore.js';

export interface LmdbMetaStoreOptions {
  log?: Logger;
}

/** Directories open in this process (absolute paths). */
const openDirs = new Set<string>();

export class LmdbMetaStore extends StagedMetaStore {
  /** The database directory (absolute). */
  readonly dir: string;

  private constructor(dir: string, env: RootDatabase, tables: LmdbTables, state: MetaState) {
    super(state, {
      persist: (tx) => {
        try {
          persist(env, tables, tx);
        } catch (err) {
          throw new Error(`snapshot metadata store ${dir}: commit failed, nothing written: ${describe(err)}`, { cause: err });
        }
      },
      release: async () => {
        try {
          await env.close();
        } finally {
          openDirs.delete(dir);
        }
      },
    });
    this.dir = dir;
  }

  /** Open (creating it, mode 0700, when missing) the store in directory `dir`. */
  static async open(dir: string, opts: LmdbMetaStoreOptions = {}): Promise<LmdbMetaStore> {
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError('metadata store directory must be a non-empty path');
    const abs = path.resolve(dir);
    if (openDirs.has(abs)) throw new FailedPreconditionError(`snapshot metadata store ${abs} is already open in this process`);
    openDirs.add(abs);
    let env: RootDatabase | undefined;
    try {
      const started = performance.now();
      await mkdir(abs, { recursive: true, mode: 0o700 });
      const { open } = await import('lmdb');
      env = open({
        path: abs,
        noSubdir: false, // data.mdb + lock.mdb inside `abs`, whatever its name looks like
        maxDbs: 4,
        // Durable on commit: a commit returns after fsync (no noSync, no overlapping sync).
        noSync: false,
        overlappingSync: false,
        cache: false,
      });
      const tables: LmdbTables = {
        meta: env.openDB<string, string>({ name: META_DB, encoding: 'string' }),
        snapshots: env.openDB<string, number>({ name: SNAPSHOTS_DB, encoding: 'string' }),
      };
      const state = env.transactionSync(() => loadState(abs, tables));
      opts.log?.debug({ dir: abs, snapshots: state.records.size, nextId: state.nextId, ms: Math.round(performance.now() - started) }, 'snapshot metadata store opened');
      return new LmdbMetaStore(abs, env, tables, state);
    } catch (err) {
      openDirs.delete(abs);
      await env?.close().catch(() => undefined);
      throw err;
    }
  }
}

/**
 * Write `tx`'s changes and the id counter in one LMDB transaction; returns once it is
 * committed and fsynced. A throw inside aborts the LMDB transaction: nothing is written.
 * Synchronous on purpose: lmdb-js's asynchronous `transaction()` keeps the writes made
 * before a throw, and this commit is one fsync (about 1 ms on a local disk).
 */
function persist(env: RootDatabase, { meta, snapshots }: LmdbTables, tx: StagedTx): void {
  const { puts, removes } = recordWrites(tx.base, tx.changes);
  const nextId = String(tx.nextId);
  env.transactionSync(() => {
    for (const id of removes) snapshots.removeSync(id);
    for (const [id, value] of puts) snapshots.putSync(id, value);
    meta.putSync(NEXT_ID_KEY, nextId);
  });
}
