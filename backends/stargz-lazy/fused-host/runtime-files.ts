/**
 * The files the FUSE-serving process loads, found from its entry points rather than copied
 * wholesale: the compiled modules reachable from `fused/main.js` and the TOC index worker
 * (static `import … from`, `export … from`, `import('…')` and `new URL('./x.js', import.meta.url)`
 * with a literal specifier), the application's package.json (`"type": "module"`), and every
 * package a reached module imports by name with the closure of its `dependencies` and
 * `optionalDependencies` that are installed (each package copied whole: native addons and their
 * shared libraries sit inside it), and the application's own native addons a module names with a
 * literal `new URL('….node', import.meta.url)` when they are built. Bounded: at most MAX_FILES files.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** One file of the set: its path relative to the application directory. */
export type RuntimeFiles = string[];

export const FUSED_ENTRY_POINTS = ['dist/backends/stargz-lazy/fused/main.js', 'dist/backends/stargz-lazy/estargz/toc-index-worker.js'];

const MAX_FILES = 50_000;
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bnew\s+URL\s*\(\s*)(['"])([^'"\n]+)\1/g;

/** The files (relative, sorted) that running `entries` of the application at `appDir` needs. */
export async function runtimeFiles(appDir: string, entries: readonly string[] = FUSED_ENTRY_POINTS): Promise<RuntimeFiles> {
  const files = new Set<string>(['package.json']);
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const rel = queue.pop()!;
    if (files.has(rel)) continue;
    if (rel.endsWith('.node')) {
      // A native addon a module names by path (fuse-kernel/fuse-device.ts): taken when built; a
      // module that needs one that is not reports that itself when it loads it.
      if (await isFile(path.join(appDir, rel))) files.add(rel);
      continue;
    }
    const text = await readFile(path.join(appDir, rel), 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new Error(`the FUSE-serving process needs ${rel}, which cannot be read in ${appDir}: ${err.code ?? err.message}`);
    });
    files.add(rel);
    for (const spec of specifiers(text)) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
        if (target.startsWith('..') || !/\.(m|c)?js$|\.json$|\.node$/.test(target)) continue;
        if (!files.has(target)) queue.push(target);
      } else if (!spec.startsWith('/')) {
        const name = packageName(spec);
        if (name !== undefined && !isBuiltin(name)) packages.add(name);
      }
    }
  }
  const packageDirs = await dependencyClosure(appDir, [...packages]);
  for (const dir of packageDirs) for (const f of await walk(appDir, dir)) files.add(f);
  if (files.size > MAX_FILES) throw new Error(`the FUSE-serving process's runtime has more than ${MAX_FILES} files; not copying it`);
  return [...files].sort();
}

export function specifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) => m[2]!);
}

function packageName(spec: string): string | undefined {
  const parts = spec.split('/');
  if (spec.startsWith('@')) return parts.length >= 2 ? `${parts[0]}/${parts[1]}` : undefined;
  return parts[0] || undefined;
}

const BUILTINS = new Set(['fs', 'path', 'os', 'url', 'util', 'events', 'stream', 'crypto', 'net', 'http', 'child_process', 'worker_threads', 'assert', 'buffer', 'zlib', 'tty', 'module', 'perf_hooks', 'string_decoder', 'timers', 'dns', 'readline', 'v8', 'vm', 'diagnostics_channel', 'async_hooks']);
function isBuiltin(name: string): boolean {
  return BUILTINS.has(name);
}

/** Directories (relative to appDir) of `names` and of everything they depend on, resolved as Node does. */
async function dependencyClosure(appDir: string, names: string[]): Promise<string[]> {
  const found = new Set<string>();
  const queue = names.map((name) => ({ name, from: '' }));
  while (queue.length > 0) {
    const { name, from } = queue.pop()!;
    const dir = await resolvePackage(appDir, from, name);
    if (dir === undefined) {
      if (from === '') throw new Error(`the FUSE-serving process imports ${name}, which is not installed under ${appDir}/node_modules`);
      continue; // an optional dependency not installed on this platform
    }
    if (found.has(dir)) continue;
    found.add(dir);
    const pkg = JSON.parse(await readFile(path.join(appDir, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) queue.push({ name: dep, from: dir });
  }
  return [...found].sort();
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** `<from>/node_modules/<name>`, then each parent's, up to the application's own node_modules. */
async function resolvePackage(appDir: string, from: string, name: string): Promise<string | undefined> {
  let dir = from;
  for (;;) {
    const candidate = path.posix.join(dir, 'node_modules', name);
    if (await isFile(path.join(appDir, candidate, 'package.json'))) return candidate;
    if (dir === '' || dir === '.') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** Regular files and symlinks under `rel` (relative to appDir), skipping nested node_modules/.bin. */
async function walk(appDir: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(appDir, rel), { withFileTypes: true });
  for (const e of entries) {
    const child = path.posix.join(rel, e.name);
    if (e.isDirectory()) {
      if (e.name === '.bin') continue;
      out.push(...(await walk(appDir, child)));
    } else if (e.isFile() || e.isSymbolicLink()) out.push(child);
    if (out.length > MAX_FILES) throw new Error(`the FUSE-serving process's runtime has more than ${MAX_FILES} files; not copying it`);
  }
  return out;
}
