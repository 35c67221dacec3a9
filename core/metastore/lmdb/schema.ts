/**
 * The LMDB layout of `LmdbMetaStore`, schema version 1. Two named databases in one
 * environment (so one LMDB transaction covers both):
 * - `meta`: `version` -> "1", `nextId` -> the next id to hand out (ids are never reused, so
 *   the counter is stored rather than derived from the largest id);
 * - `snapshots`: id (number) -> the record as JSON (see record-codec.ts).
 * Keys of `snapshots` are ids, not snapshot keys: containerd's keys are opaque strings of any
 * length, and LMDB keys are limited to ~2 KB. Lookups by name use the in-memory index.
 */
import type { Database } from 'lmdb';

export const SCHEMA_VERSION = 1;
export const META_DB = 'meta';
export const SNAPSHOTS_DB = 'snapshots';
export const VERSION_KEY = 'version';
export const NEXT_ID_KEY = 'nextId';

export interface LmdbTables {
  meta: Database<string, string>;
  snapshots: Database<string, number>;
}
