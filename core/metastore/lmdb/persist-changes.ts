/**
 * Turns the change set of one write transaction into LMDB writes. Changes are keyed by
 * snapshot name; LMDB records by id. A commit moves an id from the key to the name (one put),
 * a remove deletes the id, a remove + create of the same key in one transaction deletes the
 * old id and puts the new one. Records whose stored fields did not change (a parent whose
 * child count moved) are not rewritten.
 */
import type { ChangeSet } from '../metastore-tx.js';
import type { MetaState, SnapshotRecord } from '../snapshot-record.js';
import { encodeRecord } from './record-codec.js';

export interface RecordWrites {
  puts: Map<number, string>;
  removes: number[];
}

export function recordWrites(base: MetaState, changes: ChangeSet): RecordWrites {
  const puts = new Map<number, string>();
  const gone = new Set<number>();
  for (const [name, rec] of changes) {
    const old = base.records.get(name);
    if (old && (!rec || old.id !== rec.id)) gone.add(old.id);
    if (rec && !(old && sameStored(old, rec))) puts.set(rec.id, encodeRecord(rec));
  }
  // An id still in use after the transaction (a commit moved it from key to name) stays.
  for (const rec of changes.values()) if (rec) gone.delete(rec.id);
  return { puts, removes: [...gone] };
}

function sameStored(a: SnapshotRecord, b: SnapshotRecord): boolean {
  return (
    a.id === b.id &&
    a.kind === b.kind &&
    a.name === b.name &&
    a.parent === b.parent &&
    a.labels === b.labels &&
    a.created === b.created &&
    a.updated === b.updated &&
    a.usage === b.usage
  );
}
