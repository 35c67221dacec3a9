/**
 * Resolves an npm package specifier (`my-backend`, `@scope/backend/sub`) to a file, the way
 * `import` would from a module in `fromDir`: the nearest `node_modules/<name>` upwards (or the
 * package itself, when `fromDir` is inside it), then its `exports` under the `node`, `import`
 * and `default` conditions, else `main`, else `index.js`. Node 20 cannot resolve relative to
 * an arbitrary directory (`import.meta.resolve(spec, parent)` is behind a flag), hence this.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const CONDITIONS = new Set(['node', 'import', 'default']);
const NAME = /^(?:@[a-z0-9._~-]+\/)?[a-z0-9._~-][a-z0-9._~-]*$/i;

interface PackageJson {
  name?: unknown;
  main?: unknown;
  exports?: unknown;
}

/** Splits `@scope/name/sub/path` into `@scope/name` and `./sub/path`. */
export function splitSpecifier(specifier: string): { name: string; subpath: string } | undefined {
  const parts = specifier.split('/');
  const n = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, n).join('/');
  if (!NAME.test(name) || parts.length < n) return undefined;
  const rest = parts.slice(n).join('/');
  return { name, subpath: rest === '' ? '.' : `./${rest}` };
}

/** Absolute path of the module, or undefined when no such package is installed. Throws when the package exists but does not export the subpath. */
export function resolvePackage(specifier: string, fromDir: string): string | undefined {
  const spec = splitSpecifier(specifier);
  if (!spec) throw new Error(`"${specifier}" is not a valid package name`);
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const own = readPackageJson(join(dir, 'package.json'));
    if (own && own.name === spec.name && own.exports !== undefined) return resolveEntry(dir, own, spec.subpath, specifier);
    const pkgDir = join(dir, 'node_modules', spec.name);
    const pkg = readPackageJson(join(pkgDir, 'package.json'));
    if (pkg) return resolveEntry(pkgDir, pkg, spec.subpath, specifier);
    if (dirname(dir) === dir) return undefined;
  }
}

/** The entry module of a package directory (also used for a `use` path naming a directory). */
export function resolvePackageDir(pkgDir: string): string | undefined {
  const pkg = readPackageJson(join(pkgDir, 'package.json'));
  if (pkg) return resolveEntry(pkgDir, pkg, '.', pkgDir);
  for (const index of ['index.mjs', 'index.js']) if (isFile(join(pkgDir, index))) return join(pkgDir, index);
  return undefined;
}

function resolveEntry(pkgDir: string, pkg: PackageJson, subpath: string, specifier: string): string {
  if (pkg.exports !== undefined && pkg.exports !== null) {
    const target = exportTarget(pkg.exports, subpath);
    if (target === undefined) throw new Error(`package at ${pkgDir} does not export "${subpath}" (imported as "${specifier}")`);
    return join(pkgDir, target);
  }
  if (subpath !== '.') return join(pkgDir, subpath);
  const main = typeof pkg.main === 'string' && pkg.main !== '' ? pkg.main : 'index.js';
  for (const candidate of [main, `${main}.js`, join(main, 'index.js')]) {
    if (isFile(join(pkgDir, candidate))) return join(pkgDir, candidate);
  }
  return join(pkgDir, main);
}

function exportTarget(exports: unknown, subpath: string): string | undefined {
  const map = isSubpathMap(exports) ? (exports as Record<string, unknown>) : { '.': exports };
  if (Object.prototype.hasOwnProperty.call(map, subpath)) return conditionTarget(map[subpath], undefined);
  for (const [key, value] of Object.entries(map)) {
    const star = key.indexOf('*');
    if (star < 0) continue;
    const prefix = key.slice(0, star);
    const suffix = key.slice(star + 1);
    if (subpath.startsWith(prefix) && subpath.endsWith(suffix) && subpath.length >= key.length - 1) {
      return conditionTarget(value, subpath.slice(prefix.length, subpath.length - suffix.length));
    }
  }
  return undefined;
}

function isSubpathMap(exports: unknown): boolean {
  return typeof exports === 'object' && exports !== null && !Array.isArray(exports) && Object.keys(exports).some((k) => k.startsWith('.'));
}

function conditionTarget(value: unknown, star: string | undefined): string | undefined {
  if (typeof value === 'string') {
    if (!value.startsWith('./')) return undefined;
    return star === undefined ? value : value.replaceAll('*', star);
  }
  if (Array.isArray(value)) {
    for (const v of value) {
      const t = conditionTarget(v, star);
      if (t !== undefined) return t;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [condition, v] of Object.entries(value)) {
      if (!CONDITIONS.has(condition)) continue;
      const t = conditionTarget(v, star);
      if (t !== undefined) return t;
    }
  }
  return undefined;
}

function readPackageJson(file: string): PackageJson | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as PackageJson) : undefined;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
