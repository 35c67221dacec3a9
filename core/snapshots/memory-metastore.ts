/**
 * The in-process `MetaStore` (see metastore.ts for the semantics): records in a Map, writes
 * staged per transaction and applied together when the callback resolves. Nothing survives
 * the process. Records are never mutated in place, so a reader always sees whole records.
 */
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '../errors.js';
import { MAX_LABEL_BYTES } from './labels.js';
import type { MetaReader, MetaStore, MetaWriter, SnapshotRef, StoredInfo } from './metastore.js';
import type { Info, InfoUpdate, Kind, Labels, Usage } from './snapshotter.js';
import { nowNs } from './time.js';
import { applyLabelUpdate } from './update.js';

interface SnapshotRecord {
  readonly id: number;
  readonly kind: Kind;
  readonly name: string;
  readonly parent: string;
  readonly labels: Readonly<Labels>;
  readonly created: bigint;
  readonly updated: bigint;
  readonly usage: Usage;
  /** Number of snapshots whose parent is this one (containerd keeps a parent index). */
  readonly children: number;
}

interface State {
  records: Map<string, SnapshotRecord>;
  nextId: number;
}

const NO_USAGE: Usage = Object.freeze({ size: 0, inodes: 0 });

export class MemoryMetaStore implements MetaStore {
  #state: State = { records: new Map(), nextId: 1 };
  #writer: Promise<unknown> = Promise.resolve();
  #closed = false;

  async read<T>(fn: (tx: MetaReader) => T | Promise<T>): Promise<T> {
    this.#checkOpen();
    const tx = new Tx(this.#state, false);
    try {
      return await fn(tx);
    } finally {
      tx.finish();
    }
  }

  write<T>(fn: (tx: MetaWriter) => T | Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.#checkOpen();
      const tx = new Tx(this.#state, true);
      try {
        const result = await fn(tx);
        this.#state = tx.staged();
        return result;
      } finally {
        tx.finish();
      }
    };
    const result = this.#writer.then(run, run);
    this.#writer = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer;
  }

  #checkOpen(): void {
    if (this.#closed) throw new UnavailableError('snapshot metadata store is closed');
  }
}

/** One transaction: reads fall through to the base state; writes go to `#changes`. */
class Tx implements MetaWriter {
  readonly #base: State;
  readonly #writable: boolean;
  readonly #changes = new Map<string, SnapshotRecord | null>();
  #nextId: number;
  #done = false;

  constructor(base: State, writable: boolean) {
    this.#base = base;
    this.#writable = writable;
    this.#nextId = base.nextId;
  }

  /** The base state with this transaction's changes applied (a new State; base untouched). */
  staged(): State {
    if (this.#changes.size === 0) return { records: this.#base.records, nextId: this.#nextId };
    const records = new Map(this.#base.records);
    for (const [key, rec] of this.#changes) {
      if (rec) records.set(key, rec);
      else records.delete(key);
    }
    return { records, nextId: this.#nextId };
  }

  finish(): void {
    this.#done = true;
  }

  // ---- reads -------------------------------------------------------------------------

  getInfo(key: string): StoredInfo {
    const rec = this.#mustGet(key, 'snapshot');
    return { id: rec.id, info: toInfo(rec), usage: { ...rec.usage } };
  }

  getSnapshot(key: string): SnapshotRef {
    const rec = this.#mustGet(key, 'snapshot');
    if (rec.kind === 'committed') {
      throw new FailedPreconditionError(`requested snapshot ${JSON.stringify(key)} not active or view`);
    }
    return { id: rec.id, kind: rec.kind, parentIds: this.#parentIds(rec) };
  }

  list(): Info[] {
    return this.#all().map(toInfo);
  }

  ids(): number[] {
    return this.#all().map((rec) => rec.id);
  }

  // ---- writes ------------------------------------------------------------------------

  create(kind: Exclude<Kind, 'committed'>, key: string, parent: string, labels: Labels): SnapshotRef {
    this.#checkWritable();
    if (kind !== 'active' && kind !== 'view') {
      throw new InvalidArgumentError(`snapshot kind ${JSON.stringify(kind)} invalid; only active or view snapshots can be created`);
    }
    checkName('key', key);
    checkParentArg(parent);
    const safeLabels = checkLabels(labels);
    let parentRec: SnapshotRecord | undefined;
    if (parent !== '') {
      parentRec = this.#get(parent);
      if (!parentRec) throw new NotFoundError(`parent snapshot ${JSON.stringify(parent)} does not exist`);
      if (parentRec.kind !== 'committed') {
        throw new InvalidArgumentError(`parent ${JSON.stringify(parent)} is not a committed snapshot`);
      }
    }
    if (this.#get(key)) throw new AlreadyExistsError(`snapshot ${JSON.stringify(key)} already exists`);

    const id = this.#nextId++;
    const t = nowNs();
    this.#set({ id, kind, name: key, parent, labels: safeLabels, created: t, updated: t, usage: NO_USAGE, children: 0 });
    if (parentRec) this.#set({ ...parentRec, children: parentRec.children + 1 });
    return { id, kind, parentIds: parentRec ? this.#chainFrom(parentRec) : [] };
  }

  commit(key: string, name: string, usage: Usage, labels: Labels): { id: number } {
    this.#checkWritable();
    checkName('name', name);
    checkName('key', key);
    const safeLabels = checkLabels(labels);
    checkUsage(usage);
    if (this.#get(name)) throw new AlreadyExistsError(`committed snapshot ${JSON.stringify(name)} already exists`);
    const rec = this.#get(key);
    if (!rec) throw new NotFoundError(`active snapshot ${JSON.stringify(key)} does not exist`);
    if (rec.kind !== 'active') throw new FailedPreconditionError(`snapshot ${JSON.stringify(key)} is not active (it is ${rec.kind})`);
    const t = nowNs();
    this.#set({ ...rec, kind: 'committed', name, labels: safeLabels, created: t, updated: t, usage: { size: usage.size, inodes: usage.inodes } });
    this.#changes.set(key, null);
    return { id: rec.id };
  }

  remove(key: string): { id: number; kind: Kind } {
    this.#checkWritable();
    const rec = this.#mustGet(key, 'snapshot');
    if (rec.children > 0) {
      throw new FailedPreconditionError(`cannot remove snapshot ${JSON.stringify(key)}: it has ${rec.children} child snapshot(s); remove those first`);
    }
    if (rec.parent !== '') {
      const parentRec = this.#get(rec.parent);
      if (!parentRec) throw new NotFoundError(`parent ${JSON.stringify(rec.parent)} of snapshot ${JSON.stringify(key)} does not exist`);
      this.#set({ ...parentRec, children: parentRec.children - 1 });
    }
    this.#changes.set(key, null);
    return { id: rec.id, kind: rec.kind };
  }

  update(update: InfoUpdate, fieldpaths: readonly string[]): Info {
    this.#checkWritable();
    if (typeof update !== 'object' || update === null) throw new InvalidArgumentError('update: expected an info object');
    checkName('name', update.name);
    const next = checkLabels(update.labels);
    if (!Array.isArray(fieldpaths) || fieldpaths.some((p) => typeof p !== 'string')) {
      throw new InvalidArgumentError('update: field paths must be strings');
    }
    const rec = this.#mustGet(update.name, 'snapshot');
    const labels = checkLabels(applyLabelUpdate(rec.labels, { name: update.name, labels: next }, fieldpaths));
    const updated = { ...rec, labels, updated: nowNs() };
    this.#set(updated);
    return toInfo(updated);
  }

  // ---- helpers -----------------------------------------------------------------------

  #get(key: string): SnapshotRecord | undefined {
    this.#checkUsable();
    const staged = this.#changes.get(key);
    if (staged !== undefined) return staged ?? undefined;
    return this.#base.records.get(key);
  }

  #mustGet(key: string, what: string): SnapshotRecord {
    checkName('key', key);
    const rec = this.#get(key);
    if (!rec) throw new NotFoundError(`${what} ${JSON.stringify(key)} does not exist`);
    return rec;
  }

  #all(): SnapshotRecord[] {
    this.#checkUsable();
    const out: SnapshotRecord[] = [];
    for (const [key, rec] of this.#base.records) if (!this.#changes.has(key)) out.push(rec);
    for (const rec of this.#changes.values()) if (rec) out.push(rec);
    return out;
  }

  #set(rec: SnapshotRecord): void {
    this.#changes.set(rec.name, rec);
  }

  #parentIds(rec: SnapshotRecord): number[] {
    if (rec.parent === '') return [];
    const parent = this.#get(rec.parent);
    if (!parent) throw new NotFoundError(`parent ${JSON.stringify(rec.parent)} of snapshot ${JSON.stringify(rec.name)} does not exist`);
    return this.#chainFrom(parent);
  }

  /** `rec`'s id, then its ancestors' ids, nearest first. */
  #chainFrom(rec: SnapshotRecord): number[] {
    const ids = [rec.id];
    let cur = rec;
    while (cur.parent !== '') {
      const next = this.#get(cur.parent);
      if (!next) throw new NotFoundError(`parent ${JSON.stringify(cur.parent)} of snapshot ${JSON.stringify(cur.name)} does not exist`);
      ids.push(next.id);
      cur = next;
    }
    return ids;
  }

  #checkUsable(): void {
    if (this.#done) throw new Error('metadata transaction used after it finished');
  }

  #checkWritable(): void {
    this.#checkUsable();
    if (!this.#writable) throw new Error('metadata write attempted in a read transaction');
  }
}

function toInfo(rec: SnapshotRecord): Info {
  return { name: rec.name, parent: rec.parent, kind: rec.kind, labels: { ...rec.labels }, created: rec.created, updated: rec.updated };
}

function checkName(what: 'key' | 'name', value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`snapshot ${what} must be a string, got ${typeof value}`);
  if (value === '') throw new InvalidArgumentError(`snapshot ${what} must not be empty`);
}

function checkParentArg(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`parent must be a string ('' for none), got ${typeof value}`);
}

/** A frozen copy of `labels` after containerd's checks (strings; key + value ≤ 4096 bytes). */
function checkLabels(labels: unknown): Readonly<Labels> {
  if (labels === undefined || labels === null) return Object.freeze({});
  if (typeof labels !== 'object' || Array.isArray(labels)) throw new InvalidArgumentError('labels must be an object of strings');
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`label ${JSON.stringify(k)}: value must be a string, got ${typeof v}`);
    if (k === '') throw new InvalidArgumentError('label key must not be empty');
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_BYTES) {
      throw new InvalidArgumentError(`label key and value greater than maximum size (${MAX_LABEL_BYTES} bytes), key: ${k.slice(0, 10)}`);
    }
    out[k] = v;
  }
  return Object.freeze(out);
}

function checkUsage(usage: unknown): asserts usage is Usage {
  const u = usage as Partial<Usage> | null;
  if (typeof u !== 'object' || u === null || !isCount(u.size) || !isCount(u.inodes)) {
    throw new InvalidArgumentError('usage must be { size, inodes } with non-negative integers');
  }
}

function isCount(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
