/**
 * How to reach a registry host: scheme, origin, API path, timeouts, TLS material and extra
 * headers, from two sources merged:
 *
 * - containerd's hosts directories (`registry.hostsDirs`, hosts-dirs.ts): the node's own
 *   mirrors, CAs, plain-HTTP hosts and capabilities, so an operator defines them once;
 * - the backend's `registry.hosts`, which ADDS to them: its mirrors come after the hosts
 *   directory's (deduplicated), and what it sets explicitly for a host wins over the file
 *   for that host's own endpoint (`plainHttp: true`, `ca`/`certFile`, `timeouts`).
 *
 * `resolve()` returns an ordered list of endpoints: mirrors (hosts directory's `[host."…"]`
 * entries with the `pull` capability in file order, then `registry.hosts[host].mirrors`),
 * then the upstream (the file's `server`, else the host itself; left out when the file says
 * it cannot `pull`). Loopback hosts (`localhost`, 127.0.0.0/8, ::1) are plain HTTP like
 * containerd's `docker.MatchLocalhost` unless they have TLS settings; others are HTTPS unless
 * told `plainHttp` or written `http://` in a hosts.toml.
 */
import { isIP } from 'node:net';
import { DEFAULT_HOST } from './reference.js';
import type { HostsDirEndpoint, HostsDirTable } from './hosts-dirs.js';
import type { HostOptions, RegistryOptions, TimeoutOptions } from './options.js';
import { loadHostTls, type TlsMaterial } from './tls-files.js';

/** The host docker.io's registry API is served from. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const API_PATH = '/v2';

export interface RegistryEndpoint {
  /**
   * The registry host as written in image references (`docker.io`, `127.0.0.1:5000`); for a
   * mirror, the mirror's host (credentials and tokens are the mirror's).
   */
  host: string;
  /** `scheme://host[:port]` requests go to. */
  origin: string;
  /** Path of the registry API at the origin: `/v2`, or a hosts.toml URL's own path. */
  path: string;
  /** Upstream registry or a mirror of it. */
  role: 'upstream' | 'mirror';
  timeouts: TimeoutOptions;
  /** Headers a hosts.toml sets for this endpoint (sent to its origin only; never logged). */
  headers?: Record<string, string[]>;
  /** The hosts directory that defined it, for messages. */
  source?: string;
}

/** How to connect to an origin: connect timeout and TLS options. */
export interface OriginConnect {
  timeout: number;
  tls?: TlsMaterial | undefined;
}

/** Origins remembered at most (configured hosts, mirrors, servers of hosts.toml files). */
const MAX_ORIGINS = 4096;

export class RegistryHosts {
  /** Connect settings of every origin resolved so far (hosts, their mirrors). */
  private readonly origins = new Map<string, OriginConnect>();
  private readonly tls = new Map<string, TlsMaterial>();

  /**
   * Throws InvalidArgumentError naming the option when a TLS file of `registry.hosts` is
   * missing or invalid. `dirs`: the hosts directories' table (absent: none).
   */
  constructor(
    private readonly options: Pick<RegistryOptions, 'hosts' | 'timeouts'>,
    private readonly dirs?: Pick<HostsDirTable, 'lookup'>,
  ) {
    for (const [host, settings] of Object.entries(options.hosts)) {
      const material = loadHostTls(settings, `registry.hosts[${JSON.stringify(host)}]`);
      if (material) this.tls.set(host, material);
    }
    for (const host of Object.keys(options.hosts)) this.resolve(host);
  }

  /** Endpoints to try for a registry host, in order: its mirrors, then itself. */
  resolve(host: string): RegistryEndpoint[] {
    const settings = this.options.hosts[host];
    const entry = this.dirs?.lookup(host);
    const out: RegistryEndpoint[] = [];
    const seen = new Set<string>();
    const add = (ep: RegistryEndpoint, tls: TlsMaterial | undefined) => {
      const key = ep.origin + ep.path;
      if (seen.has(key)) return;
      seen.add(key);
      out.push(ep);
      this.remember(ep, tls);
    };
    for (const m of entry?.mirrors ?? []) {
      if (m.capabilities.has('pull')) this.fromFile(m, 'mirror', entry!.source, add);
    }
    for (const m of settings?.mirrors ?? []) {
      const ep = this.endpoint(m.host, 'mirror', m.plainHttp);
      add(ep, this.tls.get(m.host));
    }
    const up = entry?.upstream;
    if (up !== undefined && !up.capabilities.has('pull')) return out;
    if (up?.host !== undefined) {
      this.fromFile(up, 'upstream', entry!.source, add, settings);
      return out;
    }
    // No `server`: the host itself (loopback plain, as containerd), with the file's TLS, path
    // and headers; the backend's own entry for the host wins for TLS.
    const ep = this.endpoint(host, 'upstream', undefined);
    add(up === undefined ? ep : { ...ep, ...extras(up, entry!.source) }, this.tls.get(host) ?? up?.tls);
    return out;
  }

  /** Connect timeout and TLS for an origin (a registry, a mirror, a token realm, blob storage). */
  connectFor(origin: string): OriginConnect {
    return this.origins.get(origin) ?? { timeout: this.options.timeouts.connectMs };
  }

  /** Timeouts for an origin that is not a configured registry (blob storage after a redirect). */
  get defaultTimeouts(): TimeoutOptions {
    return this.options.timeouts;
  }

  /** An endpoint a hosts.toml names by URL (a mirror, or the upstream's `server`). */
  private fromFile(
    f: HostsDirEndpoint,
    role: RegistryEndpoint['role'],
    source: string,
    add: (ep: RegistryEndpoint, tls: TlsMaterial | undefined) => void,
    upstreamSettings?: HostOptions,
  ): void {
    const host = f.host!;
    const own = upstreamSettings ?? this.options.hosts[host];
    const plain = own?.plainHttp === true || f.scheme === 'http';
    add(
      {
        host,
        origin: `${plain ? 'http' : 'https'}://${host}`,
        role,
        timeouts: { ...this.options.timeouts, ...own?.timeouts },
        ...extras(f, source),
      },
      this.tls.get(host) ?? f.tls,
    );
  }

  private endpoint(host: string, role: RegistryEndpoint['role'], plainHttp: boolean | undefined): RegistryEndpoint {
    const settings: HostOptions | undefined = this.options.hosts[host];
    // A host with TLS settings is HTTPS even on loopback (the settings say it speaks TLS).
    const tls = settings !== undefined && (settings.ca.length > 0 || settings.certFile !== undefined);
    const plain = plainHttp ?? (settings?.plainHttp === true || (isLoopbackHost(host) && !tls));
    const apiHost = host === DEFAULT_HOST ? DOCKER_HUB_API_HOST : host;
    return {
      host,
      origin: `${plain ? 'http' : 'https'}://${apiHost}`,
      path: API_PATH,
      role,
      timeouts: { ...this.options.timeouts, ...settings?.timeouts },
    };
  }

  private remember(ep: RegistryEndpoint, tls: TlsMaterial | undefined): void {
    if (this.origins.has(ep.origin) || this.origins.size >= MAX_ORIGINS) return;
    const useTls = ep.origin.startsWith('https:') ? tls : undefined;
    this.origins.set(ep.origin, { timeout: ep.timeouts.connectMs, ...(useTls ? { tls: useTls } : {}) });
  }
}

function extras(f: HostsDirEndpoint, source: string): Pick<RegistryEndpoint, 'path' | 'headers' | 'source'> {
  return { path: f.path, source, ...(Object.keys(f.headers).length > 0 ? { headers: f.headers } : {}) };
}

/** True for `localhost`, 127.0.0.0/8 and ::1, with or without a port (`[::1]:5000`). */
export function isLoopbackHost(host: string): boolean {
  let name = host;
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end === -1) return false;
    name = name.slice(1, end);
  } else {
    const colon = name.lastIndexOf(':');
    if (colon !== -1 && name.indexOf(':') === colon) name = name.slice(0, colon);
  }
  name = name.toLowerCase();
  if (name === 'localhost') return true;
  const family = isIP(name);
  if (family === 4) return name.startsWith('127.');
  if (family !== 6) return false;
  // Canonical form through the URL parser: `0:0::1` is `::1`, `::ffff:127.0.0.1` is `::ffff:7f00:1`.
  const canonical = new URL(`http://[${name}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}
