/**
 * `use` -> a checked backend definition. `use` is one of:
 * - a built-in name (`memory`; see `builtins.ts`);
 * - a file path: starts with `.` or `/`, relative to the config file's directory; a directory
 *   is loaded like a package (its package.json entry, else index.mjs / index.js);
 * - an npm package name, resolved from the config file's directory (so a package installed
 *   next to the config is found);
 * - a definition object (`import mine from './mine.js'; use: mine`).
 * Every failure is a BackendLoadError (or BackendContractError for a wrong apiVersion) naming
 * the backend, the module and the root cause in one line.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackendLoadError, describe } from '../contract/errors.js';
import { BUILTIN_BACKENDS, isBuiltinBackend } from './builtins.js';
import { checkDefinition } from './check-definition.js';
import type { BackendDefinition } from '../contract/define-backend.js';
import { resolvePackage, resolvePackageDir, splitSpecifier } from './resolve-package.js';
import { sdkExportHint } from './sdk-export-hint.js';
import { syntaxErrorLocation } from './syntax-location.js';

export type BackendSourceKind = 'builtin' | 'file' | 'package' | 'inline';

export interface LoadedBackend {
  definition: BackendDefinition;
  kind: BackendSourceKind;
  /** The absolute module path (file, package), the built-in name, or `inline`. */
  module: string;
}

export interface LoadBackendOptions {
  /** Directory relative paths and packages resolve from (the config file's directory). */
  baseDir: string;
  /** The instance name, for error messages. */
  backend: string;
}

export function isPathSpecifier(use: string): boolean {
  return use.startsWith('.') || isAbsolute(use);
}

export function sourceKind(use: string | object): BackendSourceKind {
  if (typeof use !== 'string') return 'inline';
  if (isPathSpecifier(use)) return 'file';
  return isBuiltinBackend(use) ? 'builtin' : 'package';
}

/** A name for a backend whose definition could not be loaded (so errors can still name it). */
export function fallbackName(use: string | object): string {
  if (typeof use !== 'string') {
    const name = (use as { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? name : 'inline';
  }
  if (isPathSpecifier(use)) {
    const base = basename(use, extname(use));
    return base === 'index' ? basename(dirname(resolve(use))) : base;
  }
  const spec = splitSpecifier(use);
  return spec ? (spec.name.split('/').pop() ?? use) : use;
}

export async function loadBackend(use: string | object, opts: LoadBackendOptions): Promise<LoadedBackend> {
  const loaded = await loadDefinition(use, opts);
  const label = loaded.kind === 'builtin' ? `built-in backend "${loaded.module}"` : loaded.kind === 'inline' ? 'the inline definition' : loaded.module;
  checkOptionalHooks(loaded.definition, opts.backend, label);
  return loaded;
}

async function loadDefinition(use: string | object, opts: LoadBackendOptions): Promise<LoadedBackend> {
  const kind = sourceKind(use);
  if (typeof use !== 'string') return { definition: checkDefinition(use, opts.backend, 'the inline definition'), kind, module: 'inline' };
  if (kind === 'builtin') {
    const mod = await importOrFail(() => BUILTIN_BACKENDS[use]!(), opts.backend, `built-in backend "${use}"`);
    return { definition: checkDefinition(mod, opts.backend, `built-in backend "${use}"`), kind, module: use };
  }
  const file = kind === 'file' ? await resolveFile(use, opts) : resolveFromPackage(use, opts);
  const url = await moduleUrl(file);
  const mod = await importOrFail(() => import(url), opts.backend, file, file);
  return { definition: checkDefinition(mod, opts.backend, file), kind, module: file };
}

/** Optional members of a definition, when present, must have the right type too (like `create`). */
function checkOptionalHooks(def: BackendDefinition, backend: string, moduleLabel: string): void {
  const shutdown: unknown = (def as { shutdown?: unknown }).shutdown;
  if (shutdown !== undefined && typeof shutdown !== 'function') {
    throw new BackendLoadError(backend, `${moduleLabel} is not a valid backend definition: \`shutdown\` must be a function when present (got ${shutdown === null ? 'null' : typeof shutdown})`);
  }
}

/**
 * The URL to import `file` from. Node caches ES modules by URL for the life of the process,
 * so a reload would get the old code of an edited file: when the file's modification time or
 * size differs from the last import, a query string makes a new URL (the old module stays in
 * memory; reloads of edited backends are rare). Only the entry file is tracked: files it
 * imports itself are still cached.
 */
const imported = new Map<string, string>();
async function moduleUrl(file: string): Promise<string> {
  const base = pathToFileURL(file).href;
  const info = await stat(file).catch(() => undefined);
  const version = info ? `${info.mtimeMs}-${info.size}` : '';
  const first = imported.get(file);
  if (first === undefined) {
    imported.set(file, version);
    return base;
  }
  return first === version ? base : `${base}?snaphost-reload=${encodeURIComponent(version)}`;
}

async function resolveFile(use: string, opts: LoadBackendOptions): Promise<string> {
  const path = resolve(opts.baseDir, use);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new BackendLoadError(opts.backend, `cannot load ${path}: file not found`);
  if (!info.isDirectory()) return path;
  let entry: string | undefined;
  try {
    entry = resolvePackageDir(path);
  } catch (err) {
    throw new BackendLoadError(opts.backend, `cannot load ${path}: ${oneLine(err)}`, { cause: err });
  }
  if (!entry) throw new BackendLoadError(opts.backend, `cannot load ${path}: a directory without package.json, index.mjs or index.js`);
  return entry;
}

function resolveFromPackage(use: string, opts: LoadBackendOptions): string {
  let file: string | undefined;
  try {
    file = resolvePackage(use, opts.baseDir);
  } catch (err) {
    throw new BackendLoadError(opts.backend, `cannot load package "${use}": ${oneLine(err)}`, { cause: err });
  }
  if (!file) {
    throw new BackendLoadError(
      opts.backend,
      `cannot load package "${use}": not installed in ${opts.baseDir} or above (not a built-in backend either; built-ins: ${Object.keys(BUILTIN_BACKENDS).join(', ')}; a file path must start with ./ or /)`,
    );
  }
  return file;
}

async function importOrFail(load: () => Promise<unknown>, backend: string, moduleLabel: string, file?: string): Promise<unknown> {
  try {
    return await load();
  } catch (err) {
    const hint = await sdkExportHint(err);
    if (hint !== undefined) throw new BackendLoadError(backend, `cannot import ${moduleLabel}: ${oneLine(err)}; ${hint}`, { cause: err });
    const where = err instanceof SyntaxError && file ? syntaxErrorLocation(file) : undefined;
    throw new BackendLoadError(backend, `cannot import ${moduleLabel}: ${oneLine(err)}${where ? ` (${where})` : ''}`, { cause: err });
  }
}

/** `CODE: first line of the message`, for one-line reports of anything thrown. */
export function oneLine(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : describe(err);
  const first = (message.split('\n').find((l) => l.trim() !== '') ?? '').trim();
  const label = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
  return first ? `${label}: ${first}` : label;
}
