/**
 * Loads a `.ts` config. Node 20 cannot import TypeScript, so the file is transpiled (types
 * stripped, no type check) and the result is written NEXT TO the original as a hidden
 * `.<name>.<random>.mjs`, imported, and removed. Being in the same directory is what makes the
 * config's own imports behave as written: `./my-backend.js` and `import.meta.url` are relative
 * to the config's directory, and a bare `snaphost` resolves through the same `node_modules`
 * (or the package self-reference) as it would for a `.mjs` config. The price: the directory
 * must be writable; when it is not, the error says to use a `.mjs` config instead.
 * (cosmiconfig 9's own loader does the same, but on failure falls back to `require()`, which
 * replaces the real error with a confusing one, and keeps no hidden prefix.)
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../contract/errors.js';

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
  const compiled = join(dirname(file), `.${basename(file)}.${randomUUID()}.mjs`);
  try {
    await writeFile(compiled, out.outputText, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(
      [{ path: '', message: `cannot compile the TypeScript config: ${dirname(file)} is not writable (${code}); use a .mjs config there instead` }],
      file,
    );
  }
  try {
    const mod = (await import(pathToFileURL(compiled).href)) as { default?: unknown };
    return mod.default;
  } finally {
    await rm(compiled, { force: true });
  }
}
