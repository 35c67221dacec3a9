/**
 * Docker's client configuration file (`config.json`), the part a registry client needs:
 * `auths` (per registry: `auth` = base64 `user:password`, or `username`/`password`,
 * `identitytoken`, `registrytoken`), `credHelpers` (registry → helper name) and `credsStore`
 * (the default helper). Other fields are docker's own and are ignored.
 *
 * Keys are matched the way the docker CLI matches them: the exact server address first
 * (`https://index.docker.io/v1/` for docker.io, `host[:port]` otherwise), then any key whose
 * hostname (scheme and path stripped) is the registry's.
 */
import { join } from 'node:path';
import { homedir } from 'node:os';
import { z } from '../../../core/sdk.js';
import type { Credentials } from './credentials.js';
import { CredentialsError } from './registry-errors.js';
import { DEFAULT_HOST } from './reference.js';

/** The server address docker uses for Docker Hub (`docker login` with no argument). */
export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const authEntrySchema = z
  .object({
    auth: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    identitytoken: z.string().optional(),
    registrytoken: z.string().optional(),
  })
  .passthrough();

const configSchema = z
  .object({
    auths: z.record(z.string(), authEntrySchema).optional(),
    credHelpers: z.record(z.string(), z.string().regex(HELPER_NAME, 'expected a helper name such as "ecr-login"')).optional(),
    credsStore: z.union([z.literal(''), z.string().regex(HELPER_NAME, 'expected a helper name such as "pass"')]).optional(),
  })
  .passthrough();

export interface DockerConfig {
  file: string;
  /** Registry key → credentials (entries without any are left out). */
  auths: Map<string, Credentials>;
  credHelpers: Map<string, string>;
  credsStore: string | undefined;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG;
  return join(dir !== undefined && dir !== '' ? dir : join(homedir(), '.docker'), 'config.json');
}

/** Parses and checks a config file's text; errors name the file and the field. */
export function parseDockerConfig(text: string, file: string): DockerConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON.parse's message: it quotes the text around the error, which may be a password.
    throw new CredentialsError(`docker config ${file} is not JSON`);
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${fieldPath(i.path.map((s) => (typeof s === 'symbol' ? String(s) : s)))}: ${i.message}`);
    throw new CredentialsError(`docker config ${file}: ${issues.join('; ')}`);
  }
  const auths = new Map<string, Credentials>();
  for (const [key, entry] of Object.entries(parsed.data.auths ?? {})) {
    const creds = entryCredentials(entry, `${file}: ${fieldPath(['auths', key])}`);
    if (creds) auths.set(key, creds);
  }
  const store = parsed.data.credsStore;
  return {
    file,
    auths,
    credHelpers: new Map(Object.entries(parsed.data.credHelpers ?? {})),
    credsStore: store === '' ? undefined : store,
  };
}

/** What the config says about a registry host: a helper to ask (and where it is set), stored credentials, or both. */
export function lookupHost(
  config: DockerConfig,
  host: string,
): { helper?: { name: string; source: 'credHelpers' | 'credsStore' }; stored?: Credentials } {
  const helperKey = findKey(config.credHelpers, host);
  const helper =
    helperKey !== undefined
      ? { name: config.credHelpers.get(helperKey)!, source: 'credHelpers' as const }
      : config.credsStore !== undefined
        ? { name: config.credsStore, source: 'credsStore' as const }
        : undefined;
  const authKey = findKey(config.auths, host);
  const stored = authKey !== undefined ? config.auths.get(authKey) : undefined;
  return { ...(helper !== undefined ? { helper } : {}), ...(stored !== undefined ? { stored } : {}) };
}

/** The server address docker stores a host's credentials under (and passes to helpers). */
export function serverAddress(host: string): string {
  return host === DEFAULT_HOST ? DOCKER_HUB_SERVER : host;
}

/** The key of `map` for `host`: the exact server address, else the first key with the same hostname. */
function findKey(map: ReadonlyMap<string, unknown>, host: string): string | undefined {
  const exact = serverAddress(host);
  if (map.has(exact)) return exact;
  const wanted = hostnameOf(exact);
  for (const key of map.keys()) if (hostnameOf(key) === wanted) return key;
  return undefined;
}

/** docker's ConvertToHostname, with Docker Hub's names folded into one. */
function hostnameOf(key: string): string {
  let h = key.trim();
  if (h.startsWith('http://')) h = h.slice(7);
  else if (h.startsWith('https://')) h = h.slice(8);
  h = h.split('/')[0]!.toLowerCase();
  return DOCKER_HUB_NAMES.has(h) ? 'docker.io' : h;
}

function entryCredentials(entry: z.output<typeof authEntrySchema>, where: string): Credentials | undefined {
  if (entry.registrytoken) return { registryToken: entry.registrytoken };
  if (entry.identitytoken) {
    return entry.username ? { identityToken: entry.identitytoken, username: entry.username } : { identityToken: entry.identitytoken };
  }
  if (entry.auth) {
    const compact = entry.auth.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
      throw new CredentialsError(`${where}.auth: not base64`);
    }
    const decoded = Buffer.from(compact, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new CredentialsError(`${where}.auth: expected base64 of "username:password"`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username || entry.password) {
    if (!entry.username || entry.password === undefined) {
      throw new CredentialsError(`${where}: username and password go together`);
    }
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** `auths["127.0.0.1:5000"].auth` */
function fieldPath(path: (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `${i ? '.' : ''}${p}` : `[${JSON.stringify(p)}]`)).join('');
}
