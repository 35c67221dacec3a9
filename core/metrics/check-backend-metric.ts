/**
 * Validation of one `BackendMetric` a backend reports (outside input: a third-party backend may
 * report anything). Returns the metric in a checked form, or why it is dropped.
 */
import type { BackendMetric } from '../contract/snapshotter.js';
import type { FamilyType } from './reported-family.js';

export interface CheckedMetric {
  name: string;
  help: string;
  type: FamilyType;
  labels: Record<string, string>;
  /** counter / gauge */
  value?: number;
  /** histogram */
  buckets?: { le: number; count: number }[];
  sum?: number;
  count?: number;
}

const METRIC_NAME = /^[a-z_][a-z0-9_]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const MAX_NAME_LENGTH = 128;
export const MAX_LABELS = 16;
export const MAX_BUCKETS = 64;
/** Labels the host sets itself. */
const HOST_LABELS = new Set(['backend']);

export function checkBackendMetric(m: unknown): CheckedMetric | { error: string } {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return { error: 'a metric must be an object' };
  const r = m as Partial<Record<keyof BackendMetric | 'value' | 'buckets' | 'sum' | 'count', unknown>>;
  const name = r.name;
  if (typeof name !== 'string' || !METRIC_NAME.test(name) || name.length > MAX_NAME_LENGTH) {
    return { error: `metric name ${JSON.stringify(name)}: use snake_case (a-z, 0-9, _), at most ${MAX_NAME_LENGTH} characters, without a prefix` };
  }
  const bad = (why: string) => ({ error: `metric ${name}: ${why}` });
  if (r.type !== 'counter' && r.type !== 'gauge' && r.type !== 'histogram') return bad(`type ${JSON.stringify(r.type)} is not counter, gauge or histogram`);
  const type = r.type;
  const help = typeof r.help === 'string' && r.help.trim() !== '' ? r.help : undefined;
  if (!help) return bad('help must be a non-empty string');
  const labels = checkLabels(r.labels, type);
  if ('error' in labels) return bad(labels.error);

  if (type !== 'histogram') {
    const value = r.value;
    if (typeof value !== 'number' || !Number.isFinite(value)) return bad(`value ${String(value)} is not a finite number`);
    if (type === 'counter' && value < 0) return bad(`a counter cannot be negative (${value})`);
    return { name, help, type, labels: labels.ok, value };
  }
  if (!Array.isArray(r.buckets) || r.buckets.length > MAX_BUCKETS) return bad(`buckets must be an array of at most ${MAX_BUCKETS} { le, count }`);
  const buckets: { le: number; count: number }[] = [];
  for (const [i, b] of (r.buckets as unknown[]).entries()) {
    const { le, count } = (typeof b === 'object' && b !== null ? b : {}) as { le?: unknown; count?: unknown };
    if (typeof le !== 'number' || !Number.isFinite(le)) return bad(`buckets[${i}].le must be a finite number (+Inf is \`count\`)`);
    if (!isCount(count)) return bad(`buckets[${i}].count must be a non-negative integer`);
    const prev = buckets[buckets.length - 1];
    if (prev && le <= prev.le) return bad(`buckets[${i}].le ${le} is not above the previous bound ${prev.le}`);
    if (prev && count < prev.count) return bad(`buckets[${i}].count ${count} is below the previous bucket's ${prev.count} (counts are cumulative)`);
    buckets.push({ le, count });
  }
  const { sum, count } = r;
  if (!isCount(count)) return bad('count must be a non-negative integer');
  if (buckets.length > 0 && count < buckets[buckets.length - 1]!.count) return bad(`count ${count} is below the last bucket's ${buckets[buckets.length - 1]!.count}`);
  if (typeof sum !== 'number' || !Number.isFinite(sum)) return bad(`sum ${String(sum)} is not a finite number`);
  return { name, help, type, labels: labels.ok, buckets, sum, count };
}

function checkLabels(raw: unknown, type: FamilyType): { ok: Record<string, string> } | { error: string } {
  if (raw === undefined) return { ok: {} };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { error: 'labels must be an object of strings' };
  const entries = Object.entries(raw);
  if (entries.length > MAX_LABELS) return { error: `more than ${MAX_LABELS} labels` };
  const ok: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) return { error: `label name ${JSON.stringify(k)} is not a Prometheus label name` };
    if (HOST_LABELS.has(k) || (type === 'histogram' && k === 'le')) return { error: `label "${k}" is reserved` };
    if (typeof v !== 'string') return { error: `label ${k}: the value must be a string` };
    ok[k] = v;
  }
  return { ok };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
