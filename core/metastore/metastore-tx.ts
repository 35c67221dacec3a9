/**
 * One transaction of a staged metadata store (see metastore.ts for the semantics): reads fall
 * through to the committed base state; writes go to a change set that the store applies when
 * the callback resolves (and that an on-disk store persists first, in one database
 * transaction). Shared by `MemoryMetaStore` and `LmdbMetaStore`, so both answer exactly the
 * same errors.
 */
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../contract/errors.js';
import { checkLabels, checkName, checkParentArg, checkUsage } from './metastore-checks.js';
import type { MetaWriter, SnapshotRef, StoredInfo } from './metastore.js';
import { NO_USAGE, toInfo, type MetaState, type SnapshotRecord } from './snapshot-record.js';
import type { Info, InfoUpdate, Kind, Labels, Usage } from '../contract/snapshotter.js';
import { nowNs } from '../contract/time.js';
import { applyLabelUpdate } from '../contract/update.js';
import { quoteInput } from '../text/truncate.js';

/** Staged changes by name: the new record, or null when the name is gone. */
export type ChangeSet = ReadonlyMap<string, SnapshotRecord | null>;

export class StagedTx implements MetaWriter {
  readonly #base: MetaState;
  readonly #writable: boolean;
  readonly #changes = new Map<string, SnapshotRecord | null>();
  #nextId: number;
  #done = false;

  constructor(base: MetaState, writable: boolean) {
    this.#base = base;
    this.#writable = writable;
    this.#nextId = base.nextId;
  }

  /** The state this transaction started from. */
  get base(): MetaState {
    return this.#base;
  }

  /** What this transaction changed. */
  get changes(): ChangeSet {
    return this.#changes;
  }

  /** The next id after this transaction. */
  get nextId(): number {
    return this.#nextId;
  }

  /** True when committing would change nothing. */
  get unchanged(): boolean {
    return this.#changes.size === 0 && this.#nextId === this.#base.nextId;
  }

  /** The base state with this transaction's changes applied (a new state; base untouched). */
  staged(): MetaState {
    if (this.#changes.size === 0) return { records: this.#base.records, nextId: this.#nextId };
    const records = new Map(this.#base.records);
    this.applyTo(records);
    return { records, nextId: this.#nextId };
  }

  /** Apply this transaction's changes to `records` in place: O(changes), synchronous. */
  applyTo(records: Map<string, SnapshotRecord>): void {
    for (const [key, rec] of this.#changes) {
      if (rec) records.set(key, rec);
      else records.delete(key);
    }
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
      throw new FailedPreconditionError(`requested snapshot ${quoteInput(key)} not active or view`);
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
      throw new InvalidArgumentError(`snapshot kind ${quoteInput(kind)} invalid; only active or view snapshots can be created`);
    }
    checkName('key', key);
    checkParentArg(parent);
    const safeLabels = checkLabels(labels);
    let parentRec: SnapshotRecord | undefined;
    if (parent !== '') {
      parentRec = this.#get(parent);
      if (!parentRec) throw new NotFoundError(`parent snapshot ${quoteInput(parent)} does not exist`);
      if (parentRec.kind !== 'committed') {
        throw new InvalidArgumentError(`parent ${quoteInput(parent)} is not a committed snapshot`);
      }
    }
    if (this.#get(key)) throw new AlreadyExistsError(`snapshot ${quoteInput(key)} already exists`);

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
    if (this.#get(name)) throw new AlreadyExistsError(`committed snapshot ${quoteInput(name)} already exists`);
    const rec = this.#get(key);
    if (!rec) throw new NotFoundError(`active snapshot ${quoteInput(key)} does not exist`);
    if (rec.kind !== 'active') throw new FailedPreconditionError(`snapshot ${quoteInput(key)} is not active (it is ${rec.kind})`);
    const t = nowNs();
    this.#set({ ...rec, kind: 'committed', name, labels: safeLabels, created: t, updated: t, usage: Object.freeze({ size: usage.size, inodes: usage.inodes }) });
    this.#changes.set(key, null);
    return { id: rec.id };
  }

  remove(key: string): { id: number; kind: Kind } {
    this.#checkWritable();
    const rec = this.#mustGet(key, 'snapshot');
    if (rec.children > 0) {
      throw new FailedPreconditionError(`cannot remove snapshot ${quoteInput(key)}: it has ${rec.children} child snapshot(s); remove those first`);
    }
    if (rec.parent !== '') {
      const parentRec = this.#get(rec.parent);
      if (!parentRec) throw new NotFoundError(`parent ${quoteInput(rec.parent)} of snapshot ${quoteInput(key)} does not exist`);
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
    if (!rec) throw new NotFoundError(`${what} ${quoteInput(key)} does not exist`);
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
    if (!parent) throw new NotFoundError(`parent ${quoteInput(rec.parent)} of snapshot ${quoteInput(rec.name)} does not exist`);
    return this.#chainFrom(parent);
  }

  /** `rec`'s id, then its ancestors' ids, nearest first. */
  #chainFrom(rec: SnapshotRecord): number[] {
    const ids = [rec.id];
    let cur = rec;
    while (cur.parent !== '') {
      const next = this.#get(cur.parent);
      if (!next) throw new NotFoundError(`parent ${quoteInput(cur.parent)} of snapshot ${quoteInput(cur.name)} does not exist`);
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
