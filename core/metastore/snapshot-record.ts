/**
 * The record a staged metadata store keeps per snapshot, and the state a transaction starts
 * from (shared by `MemoryMetaStore` and `LmdbMetaStore`). Records are never mutated in place:
 * a change makes a new record, so a reader always sees whole records.
 */
import type { Info, Kind, Labels, Usage } from '../contract/snapshotter.js';

export interface SnapshotRecord {
  readonly id: number;
  readonly kind: Kind;
  /** The key (active, view) or name (committed). */
  readonly name: string;
  readonly parent: string;
  readonly labels: Readonly<Labels>;
  readonly created: bigint;
  readonly updated: bigint;
  readonly usage: Readonly<Usage>;
  /** Number of snapshots whose parent is this one (containerd keeps a parent index). Derived: not stored on disk. */
  readonly children: number;
}

/** A committed state of a store: every record by name, and the next id to hand out. */
export interface MetaState {
  readonly records: ReadonlyMap<string, SnapshotRecord>;
  readonly nextId: number;
}

export const NO_USAGE: Readonly<Usage> = Object.freeze({ size: 0, inodes: 0 });

export function emptyState(): MetaState {
  return { records: new Map(), nextId: 1 };
}

export function toInfo(rec: SnapshotRecord): Info {
  // A plain copy: spread keeps own `__proto__` keys (CreateDataProperty), and callers compare
  // infos with plain objects.
  return { name: rec.name, parent: rec.parent, kind: rec.kind, labels: { ...rec.labels }, created: rec.created, updated: rec.updated };
}
