/**
 * Finds and loads the config file with cosmiconfig: `--config FILE` loads exactly that file;
 * otherwise the first of `plugins.config.{ts,mjs,js,json}` in the working directory (no
 * search upwards: a daemon must not pick up a config from a parent directory by accident).
 * Returns the file's default export unvalidated; `resolve-config.ts` checks it.
 */
import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { ConfigError, describe } from '../contract/errors.js';
import { syntaxErrorLocation } from '../loading/syntax-location.js';
import { loadTypeScriptConfig } from './load-typescript.js';

export const CONFIG_SEARCH_PLACES = ['plugins.config.ts', 'plugins.config.mjs', 'plugins.config.js', 'plugins.config.json'] as const;
const EXTENSIONS = ['.ts', '.mts', '.mjs', '.js', '.cjs', '.json'];

export interface ConfigFile {
  /** Absolute path of the file. */
  file: string;
  /** Its default export (or JSON content), not validated yet. */
  config: unknown;
}

/**
 * Node keeps an imported module for the life of the process: a config file edited since its
 * first import is imported again under a URL naming its version, so a reload sees the edit.
 */
const moduleVersions = new Map<string, string>();
const loadModule: Loader = async (file) => {
  const { mtimeMs, size } = await stat(file);
  const version = `${mtimeMs}-${size}`;
  const first = moduleVersions.get(file) ?? version;
  moduleVersions.set(file, first);
  const url = pathToFileURL(file).href + (first === version ? '' : `?snaphost-reload=${encodeURIComponent(version)}`);
  return ((await import(url)) as { default?: unknown }).default;
};
const loadTs: Loader = (file, content) => loadTypeScriptConfig(file, content);

function explorer() {
  return cosmiconfig('snaphost', {
    searchPlaces: [...CONFIG_SEARCH_PLACES],
    searchStrategy: 'none',
    cache: false,
    loaders: { '.ts': loadTs, '.mts': loadTs, '.mjs': loadModule, '.js': loadModule, '.cjs': loadModule },
  });
}

/** Load `file` (resolved against `cwd`), or search `cwd` when no file is given. */
export async function loadConfigFile(file: string | undefined, cwd: string = process.cwd()): Promise<ConfigFile> {
  if (file !== undefined) return loadExact(resolve(cwd, file));
  let found;
  try {
    found = await explorer().search(cwd);
  } catch (err) {
    throw loadFailure(err, undefined);
  }
  if (!found) {
    throw new ConfigError([
      { path: '', message: `no config file found in ${cwd} (looked for ${CONFIG_SEARCH_PLACES.join(', ')}); pass --config FILE` },
    ]);
  }
  return checkExport(found.filepath, found.config, found.isEmpty);
}

async function loadExact(file: string): Promise<ConfigFile> {
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new ConfigError([{ path: '', message: 'file not found' }], file);
  if (!info.isFile()) throw new ConfigError([{ path: '', message: 'not a regular file' }], file);
  if (!EXTENSIONS.includes(extname(file))) {
    throw new ConfigError([{ path: '', message: `unsupported file type "${extname(file)}" (use ${EXTENSIONS.join(', ')})` }], file);
  }
  let loaded;
  try {
    loaded = await explorer().load(file);
  } catch (err) {
    throw loadFailure(err, file);
  }
  return checkExport(file, loaded?.config, loaded?.isEmpty);
}

function checkExport(file: string, config: unknown, isEmpty: boolean | undefined): ConfigFile {
  if (config === undefined || isEmpty) {
    throw new ConfigError([{ path: '', message: 'the file has no default export (expected `export default defineConfig({ backends: [...] })`)' }], file);
  }
  return { file, config };
}

function loadFailure(err: unknown, file: string | undefined): ConfigError {
  if (err instanceof ConfigError) return err;
  const where = file ?? (err as { filepath?: string }).filepath;
  const first = describe(err).split('\n').find((l) => l.trim() !== '' && !l.startsWith('JSON Error in')) ?? 'unknown error';
  const at = err instanceof SyntaxError && where && /\.(m|c)?js$/.test(where) ? syntaxErrorLocation(where) : undefined;
  return new ConfigError([{ path: '', message: `cannot load: ${first.trim()}${at ? ` (${at})` : ''}` }], where, { cause: err });
}
