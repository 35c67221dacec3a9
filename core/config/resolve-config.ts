/**
 * Raw config (a file's default export) -> ResolvedConfig. Validates the host shape strictly,
 * loads every backend module, validates each entry's `options` with the backend's own schema
 * (before any `create` runs), applies defaults (name, socket, root), and rejects unsafe names,
 * over-long or duplicate sockets and duplicate or nested roots. ALL problems are collected and
 * thrown as one ConfigError, each with its config path.
 *
 * A module that fails to load is not a config problem: it is recorded on its backend
 * (`error`), so `snaphost check` can show every backend's state; `loadFailures()` says which
 * of those must stop the daemon (the non-optional ones).
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { z } from 'zod';
import { loadBackend, fallbackName, sourceKind } from '../loading/load-backend.js';
import { ConfigError, describe, type ConfigIssue } from '../contract/errors.js';
import { entrySchema, hostSchema, type EntryInput } from './config-schema.js';
import {
  DEFAULT_CREATE_TIMEOUT_MS,
  DEFAULT_ROOT_DIR,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_SOCKET_DIR,
  DEFAULT_SOCKET_MODE,
} from './define-config.js';
import { DEFAULT_COLLECT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MIN_COLLECT_INTERVAL_MS } from '../metrics/metrics-defaults.js';
import { formatPath } from './config-path.js';
import type { ResolvedBackend, ResolvedConfig } from './resolved-config.js';
import { zodIssues } from './zod-issues.js';
import { DEFAULT_REQUEST_LIMITS } from '../grpc/request-limits.js';

/** containerd's rule of thumb for instance names; also safe as a file name. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
export const MAX_NAME_LENGTH = 64;
/** sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

export interface ResolveOptions {
  /** The config file (for messages). */
  file?: string;
  /** Directory relative paths resolve against: the config file's directory, or the cwd. */
  baseDir: string;
}

type Settings = Omit<ResolvedConfig, 'file' | 'backends'>;

export async function resolveConfig(raw: unknown, opts: ResolveOptions): Promise<ResolvedConfig> {
  const issues: ConfigIssue[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ path: '', message: 'the default export must be an object: defineConfig({ backends: [...] })' }], opts.file);
  }
  const host = hostSchema.safeParse(raw);
  if (!host.success) issues.push(...zodIssues(host.error, [], hostSchema));
  const settings = readSettings(raw as Record<string, unknown>, opts.baseDir);
  const entries = (raw as { backends?: unknown }).backends;
  const backends = Array.isArray(entries)
    ? await Promise.all(entries.map((entry, i) => resolveEntry(entry, i, settings, opts.baseDir, issues)))
    : [];
  const resolved = backends.filter((b): b is ResolvedBackend => b !== undefined);
  issues.push(...crossChecks(resolved), ...containerdRootChecks(settings.containerdRoot, resolved), ...criProxyChecks(settings.criProxy, resolved));
  if (issues.length > 0) throw new ConfigError(sortIssues(issues), opts.file);
  return { file: opts.file, ...settings, backends: resolved };
}

/** Backends whose module failed to load, split by whether that stops the daemon. */
export function loadFailures(config: ResolvedConfig): { fatal: ResolvedBackend[]; optional: ResolvedBackend[] } {
  const failed = config.backends.filter((b) => b.error !== undefined);
  return { fatal: failed.filter((b) => !b.optional), optional: failed.filter((b) => b.optional) };
}

function readSettings(raw: Record<string, unknown>, baseDir: string): Settings {
  const pick = <K extends keyof typeof hostSchema.shape>(key: K): z.output<(typeof hostSchema.shape)[K]> | undefined => {
    const r = hostSchema.shape[key].safeParse(raw[key]);
    return r.success ? (r.data as z.output<(typeof hostSchema.shape)[K]>) : undefined;
  };
  const metrics = pick('metrics');
  const containerdRoot = pick('containerdRoot');
  const criProxy = pick('criProxy');
  const socketMode = pick('socketMode') ?? DEFAULT_SOCKET_MODE;
  return {
    ...(criProxy
      ? { criProxy: { ...criProxy, listen: resolve(baseDir, criProxy.listen), upstream: resolve(baseDir, criProxy.upstream), socketMode: criProxy.socketMode ?? socketMode } }
      : {}),
    ...(containerdRoot !== undefined ? { containerdRoot: resolve(baseDir, containerdRoot) } : {}),
    ...(metrics
      ? {
          metrics: {
            address: metrics.address,
            minIntervalMs: metrics.minIntervalMs ?? DEFAULT_MIN_COLLECT_INTERVAL_MS,
            collectTimeoutMs: metrics.collectTimeoutMs ?? DEFAULT_COLLECT_TIMEOUT_MS,
            maxConnections: metrics.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
          },
        }
      : {}),
    logLevel: pick('logLevel') ?? 'info',
    socketDir: resolve(baseDir, pick('socketDir') ?? DEFAULT_SOCKET_DIR),
    rootDir: resolve(baseDir, pick('rootDir') ?? DEFAULT_ROOT_DIR),
    socketMode,
    createTimeoutMs: pick('createTimeoutMs') ?? DEFAULT_CREATE_TIMEOUT_MS,
    shutdownTimeoutMs: pick('shutdownTimeoutMs') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    limits: pick('limits') ?? { ...DEFAULT_REQUEST_LIMITS },
  };
}

async function resolveEntry(
  raw: unknown,
  index: number,
  settings: Settings,
  baseDir: string,
  issues: ConfigIssue[],
): Promise<ResolvedBackend | undefined> {
  const at = (...p: (string | number)[]) => formatPath(['backends', index, ...p]);
  const parsed = entrySchema.safeParse(raw);
  if (!parsed.success) issues.push(...zodIssues(parsed.error, ['backends', index], entrySchema));
  // Keep going with whatever is usable, so one typo does not hide the other problems.
  const entry = usablePart(raw);
  if (!entry) return undefined;

  const label = entry.name ?? fallbackName(entry.use);
  let loaded: Awaited<ReturnType<typeof loadBackend>> | undefined;
  let error: Error | undefined;
  try {
    loaded = await loadBackend(entry.use, { baseDir, backend: label });
  } catch (err) {
    error = err instanceof Error ? err : new Error(describe(err));
  }

  const name = entry.name ?? loaded?.definition.name ?? label;
  if (!NAME_PATTERN.test(name) || name.length > MAX_NAME_LENGTH) {
    issues.push({
      path: entry.name !== undefined ? at('name') : at('use'),
      message:
        `invalid instance name "${name}"${entry.name === undefined ? " (the backend's own name; set `name`)" : ''}: ` +
        `use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most ${MAX_NAME_LENGTH} characters`,
    });
  }

  let options: unknown;
  if (loaded) {
    const schema = loaded.definition.options;
    try {
      const r = typeof schema.safeParseAsync === 'function' ? await schema.safeParseAsync(entry.options ?? {}) : schema.safeParse(entry.options ?? {});
      if (r.success) options = r.data;
      else issues.push(...zodIssues(r.error, ['backends', index, 'options'], schema));
    } catch (err) {
      issues.push({ path: at('options'), message: `the backend's options schema threw: ${describe(err)}` });
    }
  }

  const socket = entry.socket !== undefined ? resolve(baseDir, entry.socket) : join(settings.socketDir, `${name}.sock`);
  const bytes = Buffer.byteLength(socket);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    issues.push({
      path: entry.socket !== undefined ? at('socket') : 'socketDir',
      message: `socket path ${socket} is ${bytes} bytes; a unix socket path may have at most ${MAX_SOCKET_PATH_BYTES}`,
    });
  }
  const root = entry.root !== undefined ? resolve(baseDir, entry.root) : join(settings.rootDir, name);
  return {
    index,
    name,
    use: typeof entry.use === 'string' ? entry.use : `inline "${fallbackName(entry.use)}"`,
    kind: sourceKind(entry.use),
    module: loaded?.module,
    socket,
    root,
    logLevel: entry.logLevel ?? settings.logLevel,
    optional: entry.optional === true,
    definition: loaded?.definition,
    options,
    error,
  };
}

/** The fields of an entry that are individually valid (an invalid `use` makes it unusable). */
function usablePart(raw: unknown): EntryInput | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const shape = entrySchema.shape;
  const use = shape.use.safeParse(r.use);
  if (!use.success) return undefined;
  const out: EntryInput = { use: use.data };
  for (const key of ['name', 'socket', 'root', 'logLevel', 'optional', 'options'] as const) {
    const v = shape[key].safeParse(r[key]);
    if (v.success && v.data !== undefined) (out as Record<string, unknown>)[key] = v.data;
  }
  return out;
}

function crossChecks(backends: ResolvedBackend[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (b: ResolvedBackend, key: string) => formatPath(['backends', b.index, key]);
  for (const [i, b] of backends.entries()) {
    for (const a of backends.slice(0, i)) {
      if (a.name === b.name) issues.push({ path: at(b, 'name'), message: `duplicate name "${b.name}" (also backends[${a.index}]); give each instance its own \`name\`` });
      if (a.socket === b.socket) issues.push({ path: at(b, 'socket'), message: `duplicate socket ${b.socket} (also backends[${a.index}])` });
      if (a.root === b.root) issues.push({ path: at(b, 'root'), message: `duplicate root ${b.root} (also backends[${a.index}])` });
      else if (inside(a.root, b.root) || inside(b.root, a.root)) {
        issues.push({ path: at(b, 'root'), message: `root ${b.root} overlaps backends[${a.index}]'s root ${a.root}; roots must be disjoint` });
      }
    }
  }
  return issues;
}

/** The image-fs links go into containerd's root: it must not be (inside) a backend's root, nor hold one. */
function containerdRootChecks(containerdRoot: string | undefined, backends: ResolvedBackend[]): ConfigIssue[] {
  if (containerdRoot === undefined) return [];
  const issues: ConfigIssue[] = [];
  for (const b of backends) {
    if (b.root === containerdRoot || inside(b.root, containerdRoot) || inside(containerdRoot, b.root)) {
      issues.push({ path: 'containerdRoot', message: `${containerdRoot} overlaps backends[${b.index}]'s root ${b.root}; containerd's root and snaphost's backend roots must be disjoint` });
    }
  }
  return issues;
}

/** The proxy's socket is neither a backend's socket nor containerd's socket it forwards to. */
function criProxyChecks(criProxy: ResolvedConfig['criProxy'], backends: ResolvedBackend[]): ConfigIssue[] {
  if (criProxy === undefined) return [];
  const issues: ConfigIssue[] = [];
  if (criProxy.listen === criProxy.upstream) issues.push({ path: 'criProxy.listen', message: `${criProxy.listen} is also criProxy.upstream; the proxy cannot forward to itself` });
  for (const b of backends) {
    if (b.socket === criProxy.listen) issues.push({ path: 'criProxy.listen', message: `${criProxy.listen} is backends[${b.index}]'s socket; give the proxy its own socket` });
  }
  return issues;
}

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (p: string) => p.replace(/\[(\d+)\]/g, (_, n: string) => `[${n.padStart(6, '0')}]`);
  return [...issues].sort((a, b) => (key(a.path) < key(b.path) ? -1 : key(a.path) > key(b.path) ? 1 : 0));
}

