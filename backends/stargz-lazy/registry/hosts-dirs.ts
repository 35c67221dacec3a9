/**
 * containerd's registry hosts directories (`registry.hostsDirs`, CRI's `config_path`), read
 * into a table: `<dir>/<host>/hosts.toml` (hosts-file.ts), or, without one, Docker's
 * certs.d layout in that directory (`*.crt`: CAs; `*.cert` + `*.key`: a client pair).
 *
 * Which directory serves a host is containerd's rule (config_unix.go `hostPaths`, CRI's
 * `hostDirFromRoots`): in each dir in order, `<host>_<port>_` (the Windows-safe spelling),
 * then `<host>` as written (`10.0.0.5:5000`), then `_default`; the first that exists wins.
 * A directory whose hosts.toml or TLS files are broken is skipped as if absent (the next
 * candidate serves the host) and named in `problems` with the reason: one operator's typo
 * never takes the FUSE-serving process down.
 *
 * Bounded: MAX_HOST_DIRS entries per directory, files at most MAX_HOSTS_FILE_BYTES, nothing
 * deeper than `<dir>/<host>/<file>` is read. Read synchronously (a few small files), when a
 * registry client is made; `fingerprint()` tells (asynchronously, stats only: it runs in the
 * process that answers FUSE reads) whether any changed.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_HOSTS_FILE_BYTES, parseHostsFile, type HostsFile, type HostsFileEndpoint } from './hosts-file.js';
import { loadHostTls, type TlsMaterial } from './tls-files.js';

/** Host directories read per hosts directory at most. */
export const MAX_HOST_DIRS = 256;
/** Files looked at per host directory at most (certs.d layout). */
const MAX_FILES_PER_HOST_DIR = 64;

export interface HostsDirEndpoint extends HostsFileEndpoint {
  /** TLS material read from `ca`, `client` and `skip_verify`; undefined: the defaults. */
  tls?: TlsMaterial | undefined;
}

export interface HostsDirEntry {
  /** `<dir>/<name>`: where it came from (for messages). */
  source: string;
  mirrors: HostsDirEndpoint[];
  upstream: HostsDirEndpoint;
}

export interface HostsDirTable {
  /** The entry that configures `host`, undefined when no directory does. */
  lookup(host: string): HostsDirEntry | undefined;
  /** Broken files and directories, each naming the file and what is wrong. */
  readonly problems: readonly string[];
}

/** Reads every host directory under `dirs` (missing dirs are simply empty). */
export function readHostsDirs(dirs: readonly string[]): HostsDirTable {
  const problems: string[] = [];
  const byDir = dirs.map((dir) => {
    const entries = new Map<string, HostsDirEntry>();
    for (const name of hostDirNames(dir, problems)) {
      const source = join(dir, name);
      try {
        const entry = readHostDir(source);
        if (entry) entries.set(name, entry);
      } catch (err) {
        problems.push(`${(err as Error).message}; ${source} is ignored`);
      }
    }
    return entries;
  });
  return {
    problems,
    lookup(host) {
      const names = candidateNames(host);
      for (const entries of byDir) {
        for (const name of names) {
          const entry = entries.get(name);
          if (entry) return entry;
        }
      }
      return undefined;
    },
  };
}

/** Directory names that may configure `host`, in containerd's order. */
export function candidateNames(host: string): string[] {
  const colon = host.lastIndexOf(':');
  const names: string[] = [];
  // `[::1]:5000` has its port after the last colon; a bare IPv6 (`[::1]`) has none.
  if (colon > 0 && !host.endsWith(']')) names.push(`${host.slice(0, colon)}_${host.slice(colon + 1)}_`);
  names.push(host, '_default');
  return names;
}

/**
 * Stats only: the dirs' listings and, per host directory, its own and its files' sizes and
 * modification times (bounded like the read). Equal strings: nothing an operator edits changed.
 */
export async function fingerprint(dirs: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const dir of dirs) {
    parts.push(`D${dir}`);
    let names: string[];
    try {
      names = (await readdir(dir)).sort().slice(0, MAX_HOST_DIRS + 1);
    } catch (err) {
      parts.push(`E${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      parts.push(`H${name}:${stamp(await stat(path).catch(() => undefined))}`);
      const files = await readdir(path).catch(() => [] as string[]);
      for (const file of files.sort().slice(0, MAX_FILES_PER_HOST_DIR)) parts.push(`F${file}:${stamp(await stat(join(path, file)).catch(() => undefined))}`);
    }
  }
  return parts.join('\n');
}

function hostDirNames(dir: string, problems: string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() || (d.isSymbolicLink() && tryStat(join(dir, d.name))?.isDirectory() === true))
      .map((d) => d.name)
      .sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') problems.push(`${dir}: cannot list it: ${code ?? (err as Error).message}`);
    return [];
  }
  if (names.length > MAX_HOST_DIRS) {
    problems.push(`${dir}: more than ${MAX_HOST_DIRS} host directories; only the first ${MAX_HOST_DIRS} (by name) are read`);
    return names.slice(0, MAX_HOST_DIRS);
  }
  return names;
}

function readHostDir(path: string): HostsDirEntry | undefined {
  const file = join(path, 'hosts.toml');
  const text = readBounded(file);
  if (text !== undefined && text.trim() !== '') {
    const parsed: HostsFile = parseHostsFile(text, file, path);
    return {
      source: path,
      mirrors: parsed.mirrors.map((m, i) => withTls(m, `${file}: host[${i}]`)),
      upstream: withTls(parsed.upstream, `${file}: server`),
    };
  }
  return certsDirEntry(path);
}

/** Docker's certs.d layout: `*.crt` CAs, `*.cert` client certificates with their `*.key`. */
function certsDirEntry(path: string): HostsDirEntry {
  const files = listFiles(path).slice(0, MAX_FILES_PER_HOST_DIR);
  const ca = files.filter((f) => f.endsWith('.crt')).map((f) => join(path, f));
  const client = files
    .filter((f) => f.endsWith('.cert'))
    .map((f) => {
      const key = `${f.slice(0, -'.cert'.length)}.key`;
      return files.includes(key) ? { cert: join(path, f), key: join(path, key) } : { cert: join(path, f) };
    });
  const upstream: HostsFileEndpoint = { path: '/v2', capabilities: new Set(['pull', 'resolve', 'push']), ca, client, headers: {} };
  return { source: path, mirrors: [], upstream: withTls(upstream, path) };
}

function withTls(ep: HostsFileEndpoint, where: string): HostsDirEndpoint {
  const pair = ep.client[0];
  const material = loadHostTls({ ca: ep.ca, certFile: pair?.cert, keyFile: pair === undefined ? undefined : (pair.key ?? pair.cert) }, where);
  if (ep.skipVerify !== true) return { ...ep, tls: material };
  return { ...ep, tls: { ...material, rejectUnauthorized: false } };
}

function readBounded(file: string): string | undefined {
  let fd: number;
  try {
    // Never blocks on a FIFO put there: non-blocking open, then the opened file must be regular.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${file}: not a regular file`);
    const buf = Buffer.alloc(MAX_HOSTS_FILE_BYTES + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > MAX_HOSTS_FILE_BYTES) throw new Error(`${file}: larger than ${MAX_HOSTS_FILE_BYTES} bytes`);
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function tryStat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function stamp(st: Stats | undefined): string {
  return st === undefined ? '-' : `${st.ino}/${st.size}/${st.mtimeMs}`;
}
