/** Find, load and resolve a config file (or build one from `serve --backend` flags). */
import { dirname } from 'node:path';
import type { LogLevel } from '../logger.js';
import { loadConfigFile } from './load-config-file.js';
import { resolveConfig } from './resolve-config.js';
import type { ResolvedConfig } from './resolved-config.js';

export interface ConfigOverrides {
  /** Replaces the file's `logLevel` (the `--log-level` flag). */
  logLevel?: LogLevel;
}

export async function loadConfig(file: string | undefined, cwd: string = process.cwd(), overrides: ConfigOverrides = {}): Promise<ResolvedConfig> {
  const found = await loadConfigFile(file, cwd);
  return resolveConfig(applyOverrides(found.config, overrides), { file: found.file, baseDir: dirname(found.file) });
}

export interface SingleBackendArgs {
  /** `use`: a built-in name, a package name or a file path (relative to `cwd`). */
  backend: string;
  root: string;
  socket: string;
  options: Record<string, unknown>;
}

/** `serve --backend NAME --root DIR --socket PATH [--option k=v …]`: a one-entry config, no file. */
export async function singleBackendConfig(args: SingleBackendArgs, cwd: string = process.cwd(), overrides: ConfigOverrides = {}): Promise<ResolvedConfig> {
  const raw = { backends: [{ use: args.backend, root: args.root, socket: args.socket, options: args.options }] };
  return resolveConfig(applyOverrides(raw, overrides), { baseDir: cwd });
}

function applyOverrides(raw: unknown, overrides: ConfigOverrides): unknown {
  if (overrides.logLevel === undefined || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  return { ...raw, logLevel: overrides.logLevel };
}
