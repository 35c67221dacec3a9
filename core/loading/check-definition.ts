/**
 * Is what a module exported a backend definition this host can run? Accepts objects made by
 * `defineBackend()` (marked with `BACKEND_MARK`, also from another copy of snaphost) and
 * plain objects of the same shape, so a backend need not depend on snaphost at run time.
 */
import { BackendContractError, BackendLoadError } from '../contract/errors.js';
import { BACKEND_MARK, SUPPORTED_API_VERSIONS, type BackendDefinition } from '../contract/define-backend.js';

const SHAPE_KEYS = ['name', 'apiVersion', 'options', 'create'];

/**
 * The definition in `exported` (a module namespace, or the definition itself), checked.
 * BackendLoadError when it is not a definition; BackendContractError when its apiVersion is
 * not one this host supports.
 */
export function checkDefinition(exported: unknown, backend: string, moduleLabel: string): BackendDefinition {
  const candidate = pickCandidate(exported);
  if (typeof candidate !== 'object' || candidate === null || !(BACKEND_MARK in candidate || SHAPE_KEYS.some((k) => k in candidate))) {
    throw new BackendLoadError(
      backend,
      `${moduleLabel} does not export a backend definition (its default export is ${kindOf(candidate)}; expected \`export default defineBackend({ name, apiVersion, options, create })\`)`,
    );
  }
  const def = candidate as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof def.name !== 'string' || def.name === '') problems.push('`name` must be a non-empty string');
  if (typeof def.apiVersion !== 'number' || !Number.isInteger(def.apiVersion)) problems.push('`apiVersion` must be an integer');
  if (!isSchema(def.options)) problems.push('`options` must be a zod schema (an object with safeParse)');
  if (typeof def.create !== 'function') problems.push('`create` must be a function');
  if (problems.length > 0) throw new BackendLoadError(backend, `${moduleLabel} is not a valid backend definition: ${problems.join('; ')}`);
  const version = def.apiVersion as number;
  if (!SUPPORTED_API_VERSIONS.includes(version)) {
    throw new BackendContractError(
      backend,
      `${moduleLabel} was written for backend API version ${version}, but this snaphost supports version ${SUPPORTED_API_VERSIONS.join(', ')}`,
    );
  }
  return candidate as BackendDefinition;
}

/** The default export, or the object itself when it is already a definition (inline `use`). */
function pickCandidate(exported: unknown): unknown {
  if (typeof exported !== 'object' || exported === null) return exported;
  if (BACKEND_MARK in exported || SHAPE_KEYS.every((k) => k in exported)) return exported;
  if ('default' in exported) {
    const d = (exported as { default: unknown }).default;
    // CommonJS transpiled from ESM: module.exports = { default: definition }
    if (typeof d === 'object' && d !== null && !(BACKEND_MARK in d) && 'default' in d) return (d as { default: unknown }).default;
    return d;
  }
  return exported;
}

function isSchema(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { safeParse?: unknown }).safeParse === 'function';
}

function kindOf(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}`;
  if (typeof v === 'object') return `an object with keys ${Object.keys(v).join(', ') || '(none)'}`;
  return `a ${typeof v} (${JSON.stringify(v)})`;
}
