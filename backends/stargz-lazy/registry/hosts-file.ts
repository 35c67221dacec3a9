/**
 * One `hosts.toml` of containerd's registry hosts directory (containerd docs/hosts.md,
 * remotes/docker/config/hosts.go), parsed into the endpoints it defines, in order:
 *
 * ```toml
 * server = "https://registry.example.com"      # the upstream; absent: the host itself
 * ca = "ca.pem"                                # the upstream's own settings, as below
 * [host."http://10.0.0.5:5000"]                # mirrors, tried in file order
 *   capabilities = ["pull", "resolve"]         # default: pull, resolve, push
 *   ca = ["/etc/certs/a.pem", "b.pem"]         # string or list; relative: to this file's dir
 *   client = [["client.cert", "client.key"]]   # string, list of strings, or [cert, key] pairs
 *   skip_verify = false
 *   override_path = false                      # true: the URL's path is used as is (no /v2)
 *   [host."http://10.0.0.5:5000".header]
 *     x-custom = "value"                       # string or list of strings
 * ```
 *
 * A URL without a scheme is HTTPS (as containerd); `http://` is plain HTTP. Its path gets
 * `/v2` appended unless it ends with `/v2` or `override_path` is set. Bounded: the text is
 * parsed with a small inline depth, at most MAX_HOSTS_PER_FILE mirrors, strings and lists of
 * bounded length. A relative `ca`/`client` path may not leave the file's directory (`..`).
 * Every error names the file and the key (`hosts.toml: host."http://x".ca[1]: …`).
 */
import { isAbsolute, join, normalize, relative } from 'node:path';
import { parse, TomlError } from 'smol-toml';

export const MAX_HOSTS_FILE_BYTES = 64 * 1024;
export const MAX_HOSTS_PER_FILE = 32;
const MAX_LIST = 16;
const MAX_STRING = 4096;
const MAX_HEADERS = 32;
const MAX_TOML_DEPTH = 8;

export type HostCapability = 'pull' | 'resolve' | 'push';

/** One endpoint of a hosts.toml: a mirror (`[host."…"]`) or the upstream (`server`). */
export interface HostsFileEndpoint {
  /** `http` or `https`. Absent for the upstream without `server` (the requested host's defaults). */
  scheme?: 'http' | 'https';
  /** `host[:port]`; absent like `scheme`. */
  host?: string;
  /** Path prefix of the registry API (`/v2`, or the URL's own with `override_path`). */
  path: string;
  capabilities: ReadonlySet<HostCapability>;
  /** Absolute CA files. */
  ca: string[];
  /** Client certificates: `key` absent when the cert file holds the key too. */
  client: { cert: string; key?: string }[];
  skipVerify?: boolean;
  /** Sent to this endpoint only; never logged. */
  headers: Record<string, string[]>;
}

export interface HostsFile {
  /** `[host."…"]` entries in file order. */
  mirrors: HostsFileEndpoint[];
  upstream: HostsFileEndpoint;
}

export class HostsFileError extends Error {}

/** Parses the text of `<dir>/hosts.toml` (`file` names it in errors; relative paths resolve against `dir`). */
export function parseHostsFile(text: string, file: string, dir: string): HostsFile {
  if (Buffer.byteLength(text) > MAX_HOSTS_FILE_BYTES) throw new HostsFileError(`${file}: larger than ${MAX_HOSTS_FILE_BYTES} bytes`);
  let doc: Record<string, unknown>;
  try {
    doc = parse(text, { maxDepth: MAX_TOML_DEPTH, unsafeKeyBehaviour: 'throw' }) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : '';
    throw new HostsFileError(`${file}: not valid TOML${where}: ${firstLine((err as Error).message)}`);
  }
  const at = (key: string) => `${file}: ${key}`;
  const { server, host: hostTable, ...rootFields } = doc;
  const mirrors: HostsFileEndpoint[] = [];
  if (hostTable !== undefined) {
    if (!isTable(hostTable)) throw new HostsFileError(`${at('host')}: expected a table of [host."<url>"] entries`);
    const urls = Object.keys(hostTable);
    if (urls.length > MAX_HOSTS_PER_FILE) throw new HostsFileError(`${at('host')}: more than ${MAX_HOSTS_PER_FILE} entries`);
    for (const url of urls) {
      const key = `host.${JSON.stringify(url)}`;
      const fields = hostTable[url];
      if (!isTable(fields)) throw new HostsFileError(`${at(key)}: expected a table`);
      mirrors.push(endpointOf(url, fields, dir, (k) => at(`${key}${k}`)));
    }
  }
  if (server !== undefined && typeof server !== 'string') throw new HostsFileError(`${at('server')}: expected a string`);
  const upstream = endpointOf(server === '' ? undefined : server, rootFields, dir, (k) => at(k === '' ? 'server' : k.slice(1)));
  return { mirrors, upstream };
}

const FIELDS = new Set(['capabilities', 'ca', 'client', 'skip_verify', 'override_path', 'header']);

function endpointOf(url: string | undefined, fields: Record<string, unknown>, dir: string, at: (key: string) => string): HostsFileEndpoint {
  for (const k of Object.keys(fields)) {
    if (!FIELDS.has(k)) throw new HostsFileError(`${at(`.${k}`)}: unknown key (expected one of ${[...FIELDS].join(', ')})`);
  }
  const overridePath = optionalBool(fields.override_path, at('.override_path'));
  const ep: HostsFileEndpoint = {
    path: '/v2',
    capabilities: capabilitiesOf(fields.capabilities, at('.capabilities')),
    ca: stringList(fields.ca, at('.ca')).map((p, i) => filePath(p, dir, at(`.ca[${i}]`))),
    client: clientPairs(fields.client, dir, at('.client')),
    headers: headersOf(fields.header, at('.header')),
  };
  const skipVerify = optionalBool(fields.skip_verify, at('.skip_verify'));
  if (skipVerify !== undefined) ep.skipVerify = skipVerify;
  if (url !== undefined) Object.assign(ep, locationOf(url, overridePath === true, at('')));
  return ep;
}

function locationOf(raw: string, overridePath: boolean, at: string): Pick<HostsFileEndpoint, 'scheme' | 'host' | 'path'> {
  if (raw.length > MAX_STRING) throw new HostsFileError(`${at}: URL longer than ${MAX_STRING} characters`);
  const withScheme = /^https?:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new HostsFileError(`${at}: ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.username !== '' || url.password !== '') throw new HostsFileError(`${at}: credentials in the URL are not accepted`);
  if (url.search !== '' || url.hash !== '') throw new HostsFileError(`${at}: a query or fragment is not accepted`);
  // The URL parser has resolved `.`/`..` segments (encoded ones too); the path stays encoded.
  let path = url.pathname.replace(/\/+$/, '');
  if (!overridePath && !path.endsWith('/v2')) path = `${path}/v2`;
  return { scheme: url.protocol === 'http:' ? 'http' : 'https', host: url.host, path };
}

function capabilitiesOf(v: unknown, at: string): Set<HostCapability> {
  if (v === undefined) return new Set(['pull', 'resolve', 'push']);
  const out = new Set<HostCapability>();
  stringList(v, at).forEach((c, i) => {
    const lower = c.toLowerCase();
    if (lower !== 'pull' && lower !== 'resolve' && lower !== 'push') {
      throw new HostsFileError(`${at}[${i}]: unknown capability ${JSON.stringify(c.slice(0, 64))} (pull, resolve, push)`);
    }
    out.add(lower);
  });
  return out;
}

function clientPairs(v: unknown, dir: string, at: string): HostsFileEndpoint['client'] {
  if (v === undefined) return [];
  if (typeof v === 'string') return [{ cert: filePath(v, dir, at) }];
  if (!Array.isArray(v)) throw new HostsFileError(`${at}: expected a string, a list of strings or a list of [cert, key] pairs`);
  if (v.length > MAX_LIST) throw new HostsFileError(`${at}: more than ${MAX_LIST} entries`);
  return v.map((item, i) => {
    if (typeof item === 'string') return { cert: filePath(item, dir, `${at}[${i}]`) };
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || typeof item[1] !== 'string') {
      throw new HostsFileError(`${at}[${i}]: expected a file or a [cert, key] pair of files`);
    }
    return { cert: filePath(item[0], dir, `${at}[${i}][0]`), key: filePath(item[1], dir, `${at}[${i}][1]`) };
  });
}

function headersOf(v: unknown, at: string): Record<string, string[]> {
  if (v === undefined) return {};
  if (!isTable(v)) throw new HostsFileError(`${at}: expected a table of header names`);
  const names = Object.keys(v);
  if (names.length > MAX_HEADERS) throw new HostsFileError(`${at}: more than ${MAX_HEADERS} headers`);
  const out: Record<string, string[]> = {};
  for (const name of names) {
    const where = `${at}.${JSON.stringify(name.slice(0, 64))}`;
    // RFC 9110 token; values without control characters (no header splitting). Values are
    // never put in messages: they may be credentials.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/.test(name)) throw new HostsFileError(`${where}: not a valid header name`);
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'range' || lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection') {
      throw new HostsFileError(`${where}: this header is set by the client and cannot be configured`);
    }
    const values = stringList(v[name], where);
    for (const value of values) {
      if (/[\0-\x08\x0a-\x1f\x7f]/.test(value)) throw new HostsFileError(`${where}: a value holds a control character`);
    }
    out[lower] = [...(out[lower] ?? []), ...values];
  }
  return out;
}

/** Absolute as written; relative: under `dir`, never above it. */
function filePath(p: string, dir: string, at: string): string {
  if (p === '' || p.includes('\0')) throw new HostsFileError(`${at}: expected a file path`);
  if (isAbsolute(p)) return normalize(p);
  const full = join(dir, p);
  const rel = relative(dir, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new HostsFileError(`${at}: ${JSON.stringify(p.slice(0, 200))} leaves the directory of the file`);
  return full;
}

function stringList(v: unknown, at: string): string[] {
  if (v === undefined) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw new HostsFileError(`${at}: expected a string or a list of strings`);
  if (list.length > MAX_LIST) throw new HostsFileError(`${at}: more than ${MAX_LIST} entries`);
  return list.map((s, i) => {
    if (typeof s !== 'string') throw new HostsFileError(`${at}[${i}]: expected a string`);
    if (s.length > MAX_STRING) throw new HostsFileError(`${at}[${i}]: longer than ${MAX_STRING} characters`);
    return s;
  });
}

function optionalBool(v: unknown, at: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw new HostsFileError(`${at}: expected true or false`);
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0]!.slice(0, 300);
}
