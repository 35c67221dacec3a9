/**
 * How a snapshot record is stored in LMDB (schema version 1): the key is the record's numeric
 * id, the value a JSON object with times as decimal strings (nanoseconds do not fit a JSON
 * number). The derived child count is not stored: it is recounted when the store opens.
 * Everything read back is checked; a bad record is a `CorruptMetadataError` naming its key.
 */
import { isCount } from '../metastore-checks.js';
import type { SnapshotRecord } from '../snapshot-record.js';
import type { Kind, Labels } from '../../contract/snapshotter.js';
import { CorruptMetadataError } from './corrupt-metadata-error.js';
import { quoteInput } from '../../text/truncate.js';
import { createLabels } from '../../contract/label-object.js';

interface StoredRecordV1 {
  name: string;
  kind: Kind;
  parent: string;
  labels: Labels;
  created: string;
  updated: string;
  size: number;
  inodes: number;
}

const KINDS: ReadonlySet<unknown> = new Set<Kind>(['active', 'view', 'committed']);
const NS = /^-?\d{1,20}$/;

export function encodeRecord(rec: SnapshotRecord): string {
  const stored: StoredRecordV1 = {
    name: rec.name,
    kind: rec.kind,
    parent: rec.parent,
    labels: rec.labels,
    created: rec.created.toString(),
    updated: rec.updated.toString(),
    size: rec.usage.size,
    inodes: rec.usage.inodes,
  };
  return JSON.stringify(stored);
}

/** The record stored under `key`, checked; `children` is 0 (the loader counts them). */
export function decodeRecord(dir: string, key: unknown, value: unknown): SnapshotRecord {
  if (!isCount(key) || key === 0) throw new CorruptMetadataError(dir, `snapshot record key ${describeKey(key)} is not a positive integer id`);
  const bad = (why: string, name?: unknown): CorruptMetadataError =>
    new CorruptMetadataError(dir, `snapshot record ${key}${typeof name === 'string' ? ` (${quoteInput(name)})` : ''}: ${why}`);
  if (typeof value !== 'string') throw bad('value is not a string');
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (err) {
    throw bad(`value is not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('value is not an object');
  const r = raw as Partial<Record<keyof StoredRecordV1, unknown>>;
  if (typeof r.name !== 'string' || r.name === '') throw bad('name is missing or not a non-empty string');
  const name = r.name;
  if (!KINDS.has(r.kind)) throw bad(`kind ${quoteInput(r.kind)} is not active, view or committed`, name);
  if (typeof r.parent !== 'string') throw bad('parent is not a string', name);
  if (typeof r.labels !== 'object' || r.labels === null || Array.isArray(r.labels)) throw bad('labels is not an object', name);
  const labels = createLabels();
  for (const [k, v] of Object.entries(r.labels)) {
    if (typeof v !== 'string') throw bad(`label ${quoteInput(k)} is not a string`, name);
    labels[k] = v;
  }
  if (typeof r.created !== 'string' || !NS.test(r.created)) throw bad('created is not a nanosecond timestamp', name);
  if (typeof r.updated !== 'string' || !NS.test(r.updated)) throw bad('updated is not a nanosecond timestamp', name);
  if (!isCount(r.size) || !isCount(r.inodes)) throw bad('usage size/inodes are not non-negative integers', name);
  return {
    id: key,
    kind: r.kind as Kind,
    name,
    parent: r.parent,
    labels: Object.freeze(labels),
    created: BigInt(r.created),
    updated: BigInt(r.updated),
    usage: Object.freeze({ size: r.size, inodes: r.inodes }),
    children: 0,
  };
}

function describeKey(key: unknown): string {
  try {
    return JSON.stringify(key) ?? String(key);
  } catch {
    return String(key);
  }
}
