/**
 * snaphost's own contract checks, run in-process against a created instance (containerd's
 * suite runs over gRPC and cannot see these): the shapes the host relies on and the SDK error
 * classes containerd needs for missing keys, taken keys, committing a view and removing a
 * parent. Every check uses keys of its own (`contract/<check>/…`, with a space and slashes,
 * as containerd's keys have) and removes what it made.
 */
import type { Call, Info, Mount, SnapshotFilter, Snapshotter } from '../contract/snapshotter.js';
import { CheckFailure, expectCode, expectEqual, expectTrue } from './expect-error.js';

export interface ContractSubject {
  instance: Snapshotter;
  /** A fresh per-call context. */
  call(): Call;
}

export interface ContractCheck {
  name: string;
  run(s: ContractSubject): Promise<void>;
}

const ALL: SnapshotFilter = { source: [], match: () => true };

export const CONTRACT_CHECKS: readonly ContractCheck[] = [
  { name: 'prepare-commit-view', run: prepareCommitView },
  { name: 'stat-after-list', run: statAfterList },
  { name: 'error-missing-key', run: missingKey },
  { name: 'error-duplicate-key', run: duplicateKey },
  { name: 'error-commit-of-view', run: commitOfView },
  { name: 'error-remove-with-children', run: removeWithChildren },
  { name: 'update-labels', run: updateLabels },
];

const key = (check: string, k: string) => `contract/${check}/${k} sha256:0`;

async function prepareCommitView(s: ContractSubject): Promise<void> {
  const [active, layer, view] = ['active', 'layer', 'view'].map((k) => key('prepare-commit-view', k)) as [string, string, string];
  const created = checkMounts('prepare', await s.instance.prepare(active, '', { a: '1' }, s.call()));
  const info = await s.instance.stat(active, s.call());
  checkInfo('stat of an active snapshot', info, { name: active, parent: '', kind: 'active', labels: { a: '1' } });
  expectTrue(`a new snapshot must have created == updated (got ${info.created} and ${info.updated})`, info.created === info.updated);
  expectEqual('mounts(key) must equal what prepare returned', checkMounts('mounts', await s.instance.mounts(active, s.call())), created);
  const usage = await s.instance.usage(active, s.call());
  expectTrue(`usage must be { size, inodes } of non-negative numbers (got ${JSON.stringify(usage)})`, isCount(usage?.size) && isCount(usage?.inodes));
  await s.instance.commit(layer, active, { b: '2' }, s.call());
  checkInfo('stat of the committed snapshot', await s.instance.stat(layer, s.call()), { name: layer, parent: '', kind: 'committed', labels: { b: '2' } });
  await expectCode('stat of the key after its commit (the key is gone)', 'NOT_FOUND', () => s.instance.stat(active, s.call()));
  const viewMounts = checkMounts('view', await s.instance.view(view, layer, {}, s.call()));
  checkInfo('stat of a view', await s.instance.stat(view, s.call()), { name: view, parent: layer, kind: 'view', labels: {} });
  expectEqual('mounts(view key) must equal what view returned', checkMounts('mounts', await s.instance.mounts(view, s.call())), viewMounts);
  await s.instance.remove(view, s.call());
  await s.instance.remove(layer, s.call());
  await expectCode('stat after remove', 'NOT_FOUND', () => s.instance.stat(layer, s.call()));
}

async function statAfterList(s: ContractSubject): Promise<void> {
  const [base, active, view] = ['base', 'active', 'view'].map((k) => key('stat-after-list', k)) as [string, string, string];
  const made = [base, active, view];
  try {
    await s.instance.prepare(`${base}-tmp`, '', {}, s.call());
    await s.instance.commit(base, `${base}-tmp`, { l: 'x' }, s.call());
    await s.instance.prepare(active, base, { l: 'y' }, s.call());
    await s.instance.view(view, base, {}, s.call());
    // Stat while the listing is being consumed (containerd calls Stat inside a Walk), then after.
    const listed = new Map<string, Info>();
    for await (const info of s.instance.list(ALL, s.call())) {
      if (!made.includes(info.name)) continue;
      listed.set(info.name, info);
      expectEqual(`stat(${JSON.stringify(info.name)}) during list`, await s.instance.stat(info.name, s.call()), info);
    }
    expectEqual('names that list yielded', [...listed.keys()].sort(), [...made].sort());
    for (const name of made) expectEqual(`stat(${JSON.stringify(name)}) after the list stream ended`, await s.instance.stat(name, s.call()), listed.get(name));
  } finally {
    await removeQuietly(s, [view, active, base, `${base}-tmp`]);
  }
}

async function missingKey(s: ContractSubject): Promise<void> {
  const missing = key('error-missing-key', 'missing');
  const fresh = key('error-missing-key', 'fresh');
  await expectCode('stat of a missing key', 'NOT_FOUND', () => s.instance.stat(missing, s.call()));
  await expectCode('mounts of a missing key', 'NOT_FOUND', () => s.instance.mounts(missing, s.call()));
  await expectCode('usage of a missing key', 'NOT_FOUND', () => s.instance.usage(missing, s.call()));
  await expectCode('remove of a missing key', 'NOT_FOUND', () => s.instance.remove(missing, s.call()));
  await expectCode('commit of a missing key', 'NOT_FOUND', () => s.instance.commit(fresh, missing, {}, s.call()));
  await expectCode('update of a missing snapshot', 'NOT_FOUND', () => s.instance.update({ name: missing, labels: {} }, [], s.call()));
  try {
    await expectCode('prepare on a missing parent', 'NOT_FOUND', () => s.instance.prepare(fresh, missing, {}, s.call()));
    await expectCode('view on a missing parent', 'NOT_FOUND', () => s.instance.view(fresh, missing, {}, s.call()));
  } finally {
    await removeQuietly(s, [fresh]);
  }
}

async function duplicateKey(s: ContractSubject): Promise<void> {
  const [a, b, name] = ['a', 'b', 'name'].map((k) => key('error-duplicate-key', k)) as [string, string, string];
  try {
    await s.instance.prepare(a, '', {}, s.call());
    await expectCode('prepare of a key that is taken', 'ALREADY_EXISTS', () => s.instance.prepare(a, '', {}, s.call()));
    await expectCode('view of a key that is taken', 'ALREADY_EXISTS', () => s.instance.view(a, '', {}, s.call()));
    await s.instance.commit(name, a, {}, s.call());
    await expectCode('prepare of a key that is a committed name (one namespace)', 'ALREADY_EXISTS', () => s.instance.prepare(name, '', {}, s.call()));
    await s.instance.prepare(b, '', {}, s.call());
    await expectCode('commit to a name that is taken', 'ALREADY_EXISTS', () => s.instance.commit(name, b, {}, s.call()));
    await s.instance.stat(b, s.call()); // a refused commit leaves the active snapshot as it was
  } finally {
    await removeQuietly(s, [a, b, name]);
  }
}

async function commitOfView(s: ContractSubject): Promise<void> {
  const [tmp, base, view, name] = ['tmp', 'base', 'view', 'name'].map((k) => key('error-commit-of-view', k)) as [string, string, string, string];
  try {
    await s.instance.prepare(tmp, '', {}, s.call());
    await s.instance.commit(base, tmp, {}, s.call());
    await s.instance.view(view, base, {}, s.call());
    await expectCode('commit of a view', 'FAILED_PRECONDITION', () => s.instance.commit(name, view, {}, s.call()));
    // containerd's metadata answers NotFound here (a committed name is no active key): both are right.
    await expectCode('commit of a committed snapshot', ['FAILED_PRECONDITION', 'NOT_FOUND'], () => s.instance.commit(name, base, {}, s.call()));
  } finally {
    await removeQuietly(s, [name, view, base, tmp]);
  }
}

async function removeWithChildren(s: ContractSubject): Promise<void> {
  const [tmp, parent, child] = ['tmp', 'parent', 'child'].map((k) => key('error-remove-with-children', k)) as [string, string, string];
  try {
    await s.instance.prepare(tmp, '', {}, s.call());
    await s.instance.commit(parent, tmp, {}, s.call());
    await s.instance.prepare(child, parent, {}, s.call());
    const err = await expectCode('remove of a snapshot that has a child', 'FAILED_PRECONDITION', () => s.instance.remove(parent, s.call()));
    expectTrue(`the message of a refused remove must contain "remove" (containerd's suite checks it), got "${err.message}"`, /remove/i.test(err.message));
    await s.instance.stat(parent, s.call()); // still there
    await s.instance.remove(child, s.call());
    await s.instance.remove(parent, s.call());
  } finally {
    await removeQuietly(s, [child, parent, tmp]);
  }
}

async function updateLabels(s: ContractSubject): Promise<void> {
  const k = key('update-labels', 'a');
  try {
    await s.instance.prepare(k, '', { keep: '1', drop: '2' }, s.call());
    const before = await s.instance.stat(k, s.call());
    const after = await s.instance.update({ name: k, labels: { add: '3' } }, ['labels.add', 'labels.drop'], s.call());
    checkInfo('update with fieldpaths labels.add, labels.drop', after, { name: k, parent: '', kind: 'active', labels: { keep: '1', add: '3' } });
    expectTrue('update must set updated (to now) and keep created', after.created === before.created && after.updated >= before.updated);
    expectEqual('stat after update', await s.instance.stat(k, s.call()), after);
    await expectCode('update with fieldpath "parent" (immutable)', 'INVALID_ARGUMENT', () => s.instance.update({ name: k, labels: {} }, ['parent'], s.call()));
  } finally {
    await removeQuietly(s, [k]);
  }
}

// ---- helpers ------------------------------------------------------------------------------

function checkMounts(method: string, mounts: unknown): Mount[] {
  const ok =
    Array.isArray(mounts) &&
    mounts.length > 0 &&
    mounts.every((m: Mount) => typeof m?.type === 'string' && m.type !== '' && typeof m.source === 'string' && Array.isArray(m.options) && m.options.every((o) => typeof o === 'string'));
  if (!ok) throw new CheckFailure(`${method} must return a non-empty array of { type, source, options: string[] } (got ${JSON.stringify(mounts)})`);
  return mounts as Mount[];
}

function checkInfo(what: string, info: Info, expected: Pick<Info, 'name' | 'parent' | 'kind' | 'labels'>): void {
  // Labels compared by own entries: a prototype-less label object is as good as a plain one.
  const labels = typeof info?.labels === 'object' && info.labels !== null ? { ...info.labels } : info?.labels;
  expectEqual(what, { name: info?.name, parent: info?.parent, kind: info?.kind, labels }, expected);
  expectTrue(
    `${what}: created and updated must be bigint nanoseconds (use nowNs()), got ${typeof info.created} ${String(info.created)}`,
    typeof info.created === 'bigint' && typeof info.updated === 'bigint' && info.created > 1_000_000_000_000_000_000n,
  );
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Best-effort removal of what a check made (children first), so one failure does not cascade. */
async function removeQuietly(s: ContractSubject, keys: string[]): Promise<void> {
  for (const k of keys) {
    try {
      await s.instance.remove(k, s.call());
    } catch {
      // not there (already removed or never made), or the failure the check reports
    }
  }
}
