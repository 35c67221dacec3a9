/**
 * One scrape's status reports -> metric families. The host's own series per backend
 * (`snaphost_backend_up`, `_snapshots`, `_disk_bytes`, lazy-layer series) and every valid
 * `BackendMetric` as `snaphost_backend_<name>{backend, …labels}`. What a backend reports is
 * outside input: a field or metric that is malformed, clashes with a host series or with
 * another backend's type for the same name, or repeats a label set, is dropped and listed in
 * `problems`; the rest of the scrape is unaffected.
 */
import type { LayerStatus } from '../contract/snapshotter.js';
import { checkBackendMetric, type CheckedMetric } from './check-backend-metric.js';
import type { StatusReport } from './scrape-status.js';
import { ReportedFamily, type FamilyType } from './reported-family.js';

export const BACKEND_PREFIX = 'snaphost_backend_';
/** Series one backend may report per scrape; the rest are dropped. */
export const MAX_SERIES_PER_BACKEND = 2000;
/** Prefetch / background states kept as label values; anything else is counted as `other`. */
const STATE_VALUE = /^[a-z][a-z0-9_-]{0,31}$/;

export interface Problem {
  backend: string;
  message: string;
}

const HOST = {
  up: ['gauge', "1 when the backend's status answered within the collect timeout at its last collection (at most one per metrics.minIntervalMs), else 0."],
  status_seconds: ['gauge', "How long the backend's status took to answer (or to fail) at its last collection."],
  status_age_seconds: ['gauge', "Seconds since the status these series come from was collected (grows while collections fail or are late: the last status that answered is served)."],
  snapshots: ['gauge', 'Snapshots of every kind the backend holds.'],
  disk_bytes: ['gauge', 'Bytes the backend uses on disk (its root, caches included).'],
  layers: ['gauge', 'Lazily fetched layers by state (available: served and readable; unavailable: not served, or its registry is unreachable and it is not fully cached).'],
  layer_fetched_bytes: ['gauge', "Bytes of lazily fetched layers' contents held locally, summed over layers."],
  layer_size_bytes: ['gauge', "Bytes of lazily fetched layers' contents in total, summed over layers."],
  layer_prefetch: ['gauge', 'Lazily fetched layers by prefetch state.'],
  layer_background: ['gauge', 'Lazily fetched layers by background fetch state.'],
} as const satisfies Record<string, [FamilyType, string]>;

export function statusFamilies(reports: readonly StatusReport[]): { families: ReportedFamily[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const host = Object.fromEntries(Object.entries(HOST).map(([k, [type, help]]) => [k, new ReportedFamily(BACKEND_PREFIX + k, help, type)])) as Record<keyof typeof HOST, ReportedFamily>;
  const reported = new ReportedFamilies(new Set(Object.values(host).flatMap(sampleNames)));

  for (const r of reports) {
    const backend = { backend: r.backend };
    host.up.add(backend, r.up ? 1 : 0);
    host.status_seconds.add(backend, r.seconds);
    if (r.ageSeconds !== undefined) host.status_age_seconds.add(backend, r.ageSeconds);
    if (!('status' in r)) continue;
    const problem = (message: string) => problems.push({ backend: r.backend, message });
    const s = r.status;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) {
      problem('status() must return an object');
      continue;
    }
    const { snapshots, diskBytes, layers, metrics } = s as Record<string, unknown>;
    if (snapshots !== undefined) {
      if (isAmount(snapshots)) host.snapshots.add(backend, snapshots);
      else problem(`status().snapshots ${String(snapshots)} is not a non-negative number`);
    }
    if (diskBytes !== undefined) {
      if (isAmount(diskBytes)) host.disk_bytes.add(backend, diskBytes);
      else problem(`status().diskBytes ${String(diskBytes)} is not a non-negative number`);
    }
    if (layers !== undefined) addLayers(host, r.backend, layers, problem);
    if (metrics !== undefined) {
      if (!Array.isArray(metrics)) problem('status().metrics must be an array');
      else reported.addAll(r.backend, metrics, problem);
    }
  }
  return { families: [...Object.values(host).filter((f) => f.size > 0), ...reported.families()], problems };
}

function addLayers(host: Record<keyof typeof HOST, ReportedFamily>, name: string, layers: unknown, problem: (m: string) => void): void {
  if (!Array.isArray(layers)) {
    problem('status().layers must be an array');
    return;
  }
  const byState = { available: 0, unavailable: 0 };
  const prefetch = new Map<string, number>();
  const background = new Map<string, number>();
  let fetched = 0;
  let size = 0;
  for (const [i, raw] of layers.entries()) {
    const l = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof LayerStatus, unknown>>;
    if ((l.state !== 'available' && l.state !== 'unavailable') || !isAmount(l.fetchedBytes) || !isAmount(l.totalBytes)) {
      problem(`status().layers[${i}]: expected { state: 'available' | 'unavailable', fetchedBytes, totalBytes } with non-negative byte counts`);
      continue;
    }
    byState[l.state]++;
    fetched += l.fetchedBytes;
    size += l.totalBytes;
    for (const [map, value] of [[prefetch, l.prefetch], [background, l.background]] as const) {
      if (value === undefined) continue;
      const state = typeof value === 'string' && STATE_VALUE.test(value) ? value : 'other';
      map.set(state, (map.get(state) ?? 0) + 1);
    }
  }
  for (const [state, n] of Object.entries(byState)) host.layers.add({ backend: name, state }, n);
  host.layer_fetched_bytes.add({ backend: name }, fetched);
  host.layer_size_bytes.add({ backend: name }, size);
  for (const [state, n] of prefetch) host.layer_prefetch.add({ backend: name, state }, n);
  for (const [state, n] of background) host.layer_background.add({ backend: name, state }, n);
}

/** The backends' own metrics, merged by name across backends. */
class ReportedFamilies {
  readonly #byName = new Map<string, ReportedFamily>();
  readonly #seen = new Set<string>();
  /** Sample names in use, so `x_count` cannot collide with histogram `x`'s count. */
  readonly #taken: Set<string>;

  constructor(hostNames: Set<string>) {
    this.#taken = hostNames;
  }

  addAll(backend: string, metrics: unknown[], problem: (m: string) => void): void {
    let series = 0;
    for (const raw of metrics) {
      const m = checkBackendMetric(raw);
      if ('error' in m) {
        problem(m.error);
        continue;
      }
      if (series >= MAX_SERIES_PER_BACKEND) {
        problem(`more than ${MAX_SERIES_PER_BACKEND} series; the rest are dropped`);
        return;
      }
      const family = this.#family(m, problem);
      if (!family) continue;
      const labels = { backend, ...m.labels };
      const key = `${family.name}\0${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
      if (this.#seen.has(key)) {
        problem(`metric ${m.name}: the label set ${JSON.stringify(m.labels)} is reported twice`);
        continue;
      }
      this.#seen.add(key);
      series++;
      if (m.type !== 'histogram') {
        family.add(labels, m.value!);
        continue;
      }
      for (const b of m.buckets!) family.add({ ...labels, le: String(b.le) }, b.count, '_bucket');
      family.add({ ...labels, le: '+Inf' }, m.count!, '_bucket');
      family.add(labels, m.sum!, '_sum');
      family.add(labels, m.count!, '_count');
    }
  }

  families(): ReportedFamily[] {
    return [...this.#byName.values()];
  }

  #family(m: CheckedMetric, problem: (message: string) => void): ReportedFamily | undefined {
    const full = BACKEND_PREFIX + m.name;
    const existing = this.#byName.get(full);
    if (existing) {
      if (existing.type === m.type) return existing;
      problem(`metric ${m.name}: reported as ${m.type}, but another series of that name is a ${existing.type}`);
      return undefined;
    }
    const family = new ReportedFamily(full, m.help, m.type);
    const names = sampleNames(family);
    const clash = names.find((n) => this.#taken.has(n));
    if (clash) {
      problem(`metric ${m.name}: ${clash} is already a series of snaphost or of another metric`);
      return undefined;
    }
    for (const n of names) this.#taken.add(n);
    this.#byName.set(full, family);
    return family;
  }
}

/** The names a family's samples use in the exposition. */
function sampleNames(f: ReportedFamily): string[] {
  return f.type === 'histogram' ? [f.name, `${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name];
}

function isAmount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
