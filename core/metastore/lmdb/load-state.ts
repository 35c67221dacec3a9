/**
 * Reads a whole `LmdbMetaStore` database into the in-memory index, checking every invariant
 * the store relies on, and initialises an empty database. Called inside one LMDB transaction,
 * so it sees one consistent state. Anything wrong is a CorruptMetadataError naming the key.
 */
import { FailedPreconditionError } from '../../contract/errors.js';
import type { MetaState, SnapshotRecord } from '../snapshot-record.js';
import { CorruptMetadataError } from './corrupt-metadata-error.js';
import { decodeRecord } from './record-codec.js';
import { NEXT_ID_KEY, SCHEMA_VERSION, VERSION_KEY, type LmdbTables } from './schema.js';
import { quoteInput } from '../../text/truncate.js';

export function loadState(dir: string, { meta, snapshots }: LmdbTables): MetaState {
  const version = meta.get(VERSION_KEY);
  if (version === undefined) {
    if (snapshots.getKeysCount() > 0 || meta.get(NEXT_ID_KEY) !== undefined) {
      throw new CorruptMetadataError(dir, `key "${VERSION_KEY}" is missing but the database holds data`);
    }
    meta.putSync(VERSION_KEY, String(SCHEMA_VERSION));
    meta.putSync(NEXT_ID_KEY, '1');
    return { records: new Map(), nextId: 1 };
  }
  const v = parseCount(version);
  if (v === undefined || v === 0) throw new CorruptMetadataError(dir, `key "${VERSION_KEY}" is ${JSON.stringify(version)}, not a schema version`);
  if (v > SCHEMA_VERSION) {
    throw new FailedPreconditionError(
      `snapshot metadata store ${dir}: schema version ${v} was written by a newer snaphost; this one understands version ${SCHEMA_VERSION} at most (upgrade snaphost, or move the directory aside)`,
    );
  }
  const rawNext = meta.get(NEXT_ID_KEY);
  const nextId = parseCount(rawNext);
  if (nextId === undefined || nextId === 0) throw new CorruptMetadataError(dir, `key "${NEXT_ID_KEY}" is ${JSON.stringify(rawNext)}, not a positive id`);

  const records = new Map<string, SnapshotRecord>();
  const ids = new Map<string, number>();
  for (const { key, value } of snapshots.getRange()) {
    const rec = decodeRecord(dir, key, value);
    if (rec.id >= nextId) throw new CorruptMetadataError(dir, `snapshot record ${rec.id} (${quoteInput(rec.name)}): id is not below "${NEXT_ID_KEY}" (${nextId})`);
    const other = ids.get(rec.name);
    if (other !== undefined) throw new CorruptMetadataError(dir, `snapshot records ${other} and ${rec.id} both name ${quoteInput(rec.name)}`);
    ids.set(rec.name, rec.id);
    records.set(rec.name, rec);
  }
  return { records: withChildCounts(dir, records), nextId };
}

/**
 * Checks that every parent exists, is committed and is older than its child (ids only grow,
 * so this also rules out cycles), and sets each record's child count.
 */
function withChildCounts(dir: string, records: Map<string, SnapshotRecord>): Map<string, SnapshotRecord> {
  const children = new Map<string, number>();
  for (const rec of records.values()) {
    if (rec.parent === '') continue;
    const parent = records.get(rec.parent);
    const where = `snapshot record ${rec.id} (${quoteInput(rec.name)})`;
    if (!parent) throw new CorruptMetadataError(dir, `${where}: parent ${quoteInput(rec.parent)} does not exist`);
    if (parent.kind !== 'committed') throw new CorruptMetadataError(dir, `${where}: parent ${quoteInput(rec.parent)} is ${parent.kind}, not committed`);
    if (parent.id >= rec.id) throw new CorruptMetadataError(dir, `${where}: parent ${quoteInput(rec.parent)} has id ${parent.id}, not older than its child`);
    children.set(rec.parent, (children.get(rec.parent) ?? 0) + 1);
  }
  for (const [name, count] of children) {
    const rec = records.get(name)!;
    records.set(name, { ...rec, children: count });
  }
  return records;
}

function parseCount(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}
