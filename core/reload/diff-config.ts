/**
 * What a reload changes: the running config against the new one, by instance name.
 *
 * - `added`: names only in the new config (started).
 * - `removed`: names only in the running config (drained and stopped).
 * - `changed`: the same name with a different resolved entry. A difference in anything the
 *   instance was created from (`use`, the module, the definition, `socket`, `root`,
 *   `optional`, `options`, a load error) needs a restart; a `logLevel`-only difference is
 *   applied to the running instance's logger (`restart: false`).
 * - `unchanged`: everything else; the daemon never touches these.
 * - `settings`: daemon-level fields that differ, each marked `live` (applied at once) or
 *   `restart` (takes effect at the next daemon start).
 *
 * The definition is compared by identity: `load-backend.ts` re-imports a module file whose
 * modification time changed, so an edited backend file restarts its instances and an
 * untouched one yields the same object. Inline definitions (objects written in the config
 * file) are new objects at every load of the config, so for them the name, API version and
 * the source text of `create`/`shutdown` are compared instead.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BackendDefinition } from '../contract/define-backend.js';
import type { ResolvedBackend, ResolvedConfig } from '../config/resolved-config.js';

export interface BackendChange {
  before: ResolvedBackend;
  after: ResolvedBackend;
  /** The entry fields that differ, e.g. `['options', 'logLevel']`. */
  fields: string[];
  /** False when only fields that apply to a running instance (logLevel) differ. */
  restart: boolean;
}

export type SettingApply = 'live' | 'restart';

export interface SettingChange {
  field: string;
  before: unknown;
  after: unknown;
  apply: SettingApply;
}

export interface ConfigDiff {
  added: ResolvedBackend[];
  removed: ResolvedBackend[];
  changed: BackendChange[];
  unchanged: ResolvedBackend[];
  settings: SettingChange[];
}

/** Entry fields a running instance can take without a restart. */
const LIVE_ENTRY_FIELDS: ReadonlySet<string> = new Set(['logLevel']);

/**
 * Daemon-level fields applied to the running daemon. `socketDir` and `rootDir` only act
 * through each backend's resolved socket and root (diffed per backend); `socketMode` is
 * applied to the sockets of running backends. Every other field (the admin socket's
 * directory is `socketDir`, so a moved socketDir also needs a restart for the admin socket)
 * is `restart`.
 */
const LIVE_SETTINGS: ReadonlySet<string> = new Set(['logLevel', 'createTimeoutMs', 'shutdownTimeoutMs', 'socketMode', 'rootDir']);

export function diffConfig(before: ResolvedConfig, after: ResolvedConfig): ConfigDiff {
  const old = new Map(before.backends.map((b) => [b.name, b]));
  const next = new Set(after.backends.map((b) => b.name));
  const diff: ConfigDiff = { added: [], removed: [], changed: [], unchanged: [], settings: diffSettings(before, after) };
  for (const b of after.backends) {
    const prev = old.get(b.name);
    if (!prev) {
      diff.added.push(b);
      continue;
    }
    const fields = entryDifferences(prev, b);
    if (fields.length === 0) diff.unchanged.push(b);
    else diff.changed.push({ before: prev, after: b, fields, restart: fields.some((f) => !LIVE_ENTRY_FIELDS.has(f)) });
  }
  diff.removed = before.backends.filter((b) => !next.has(b.name));
  return diff;
}

/** The resolved-entry fields that differ between two entries of the same name. */
export function entryDifferences(a: ResolvedBackend, b: ResolvedBackend): string[] {
  const fields: string[] = [];
  for (const key of ['use', 'kind', 'module', 'socket', 'root', 'logLevel', 'optional'] as const) {
    if (a[key] !== b[key]) fields.push(key);
  }
  if (!sameDefinition(a, b)) fields.push('definition');
  if (!isDeepStrictEqual(a.options, b.options)) fields.push('options');
  if ((a.error?.message ?? '') !== (b.error?.message ?? '')) fields.push('error');
  return fields;
}

function sameDefinition(a: ResolvedBackend, b: ResolvedBackend): boolean {
  if (a.definition === b.definition) return true;
  if (!a.definition || !b.definition) return false;
  if (a.kind !== 'inline' || b.kind !== 'inline') return false;
  return inlineSignature(a.definition) === inlineSignature(b.definition);
}

function inlineSignature(d: BackendDefinition): string {
  return JSON.stringify([d.name, d.apiVersion, String(d.create), d.shutdown === undefined ? null : String(d.shutdown)]);
}

function diffSettings(before: ResolvedConfig, after: ResolvedConfig): SettingChange[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)].filter((k) => k !== 'backends' && k !== 'file'));
  const out: SettingChange[] = [];
  for (const field of [...keys].sort()) {
    const a = (before as unknown as Record<string, unknown>)[field];
    const b = (after as unknown as Record<string, unknown>)[field];
    if (isDeepStrictEqual(a, b)) continue;
    out.push({ field, before: a, after: b, apply: LIVE_SETTINGS.has(field) ? 'live' : 'restart' });
  }
  return out;
}
