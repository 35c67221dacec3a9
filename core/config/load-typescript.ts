/**
 * Loads a `.ts` config. Node 20 cannot import TypeScript, so the file is transpiled (types
 * stripped, no type check) and the result is written NEXT TO the original as a hidden
 * `.<name>.<random>.mjs`, imported, and removed. Being in the same directory is what makes the
 * config's own imports behave as written: `./my-backend.js` and `import.meta.url` are relative
 * to the config's directory, and a bare `snaphost` resolves through the same `node_modules`
 * (or the package self-reference) as it would for a `.mjs` config. When the directory is
 * read-only (a Kubernetes ConfigMap mount), the file is compiled in a private temporary
 * directory instead, where a bare `snaphost` resolves to this installation (a
 * node_modules/snaphost link) and relative imports do not resolve (the error says so).
 * (cosmiconfig 9's own loader does the same, but on failure falls back to `require()`, which
 * replaces the real error with a confusing one, and keeps no hidden prefix.)
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../contract/errors.js';

/** Errors of a directory that cannot be written: a read-only mount (a Kubernetes ConfigMap), permissions. */
const READ_ONLY = new Set(['EROFS', 'EACCES', 'EPERM']);

export async function loadTypeScriptConfig(file: string, source: string): Promise<unknown> {
  const ts = (await import('typescript')).default;
  const out = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    throw new ConfigError(
      errors.map((d) => {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        const at = where ? `line ${where.line + 1}, column ${where.character + 1}: ` : '';
        return { path: '', message: `${at}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}` };
      }),
      file,
    );
  }
  const name = `.${basename(file)}.${randomUUID()}.mjs`;
  let compiled = join(dirname(file), name);
  let scratch: string | undefined;
  try {
    await writeFile(compiled, out.outputText, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (!READ_ONLY.has(code)) {
      throw new ConfigError([{ path: '', message: `cannot compile the TypeScript config next to it in ${dirname(file)} (${code}); use a .mjs config there instead` }], file);
    }
    // A read-only directory (a ConfigMap mounted in a pod): compile into a private directory
    // where a bare `snaphost` resolves to this installation; relative imports cannot work there.
    scratch = await compileInScratch(file, name, out.outputText, code);
    compiled = join(scratch, name);
  }
  try {
    const mod = (await import(pathToFileURL(compiled).href)) as { default?: unknown };
    return mod.default;
  } catch (err) {
    if (scratch !== undefined && (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new ConfigError(
        [{ path: '', message: `${dirname(file)} is read-only, so the config was compiled elsewhere, where only 'snaphost' and Node.js's own modules resolve: ${(err as Error).message}; use a .mjs config for other imports` }],
        file,
      );
    }
    throw err;
  } finally {
    await rm(compiled, { force: true });
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

/** A private temporary directory holding the compiled config and node_modules/snaphost -> this package. */
async function compileInScratch(file: string, name: string, text: string, code: string): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'snaphost-config-'));
  try {
    await mkdir(join(scratch, 'node_modules'), { mode: 0o700 });
    await symlink(packageRoot(), join(scratch, 'node_modules', 'snaphost'), 'dir');
    await writeFile(join(scratch, name), text, { mode: 0o600, flag: 'wx' });
    return scratch;
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(
      [{ path: '', message: `cannot compile the TypeScript config: ${dirname(file)} is not writable (${code}) and neither is ${tmpdir()} (${why}); use a .mjs config instead` }],
      file,
    );
  }
}

/** The directory of snaphost's package.json (this module is in <root>/core/config or <root>/dist/core/config). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'snaphost') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no snaphost package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
