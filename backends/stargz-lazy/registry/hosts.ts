/**
 * How to reach a registry host: scheme, origin, timeouts and TLS material, from the registry
 * options. Loopback hosts (`localhost`, 127.0.0.0/8, ::1) are plain HTTP like containerd's
 * `docker.MatchLocalhost` unless they have TLS settings (`ca`, `certFile`); others are HTTPS
 * unless the options say `plainHttp`.
 *
 * `resolve()` returns an ordered list of endpoints: the host's mirrors in the configured
 * order, then the host itself; readers try them in order. TLS files are read (and checked)
 * when this table is built, at start.
 */
import { isIP } from 'node:net';
import { DEFAULT_HOST } from './reference.js';
import type { HostOptions, RegistryOptions, TimeoutOptions } from './options.js';
import { loadHostTls, type TlsMaterial } from './tls-files.js';

/** The host docker.io's registry API is served from. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface RegistryEndpoint {
  /**
   * The registry host as written in image references (`docker.io`, `127.0.0.1:5000`); for a
   * mirror, the mirror's host (credentials and tokens are the mirror's).
   */
  host: string;
  /** `scheme://host[:port]` requests go to. */
  origin: string;
  /** Upstream registry or a mirror of it. */
  role: 'upstream' | 'mirror';
  timeouts: TimeoutOptions;
}

/** How to connect to an origin: connect timeout and TLS options. */
export interface OriginConnect {
  timeout: number;
  tls?: TlsMaterial | undefined;
}

export class RegistryHosts {
  /** Connect settings of every origin the options configure (hosts, their mirrors). */
  private readonly origins = new Map<string, OriginConnect>();
  private readonly tls = new Map<string, TlsMaterial>();

  /** Throws InvalidArgumentError naming the option when a TLS file is missing or invalid. */
  constructor(private readonly options: Pick<RegistryOptions, 'hosts' | 'timeouts'>) {
    for (const [host, settings] of Object.entries(options.hosts)) {
      const material = loadHostTls(settings, `registry.hosts[${JSON.stringify(host)}]`);
      if (material) this.tls.set(host, material);
    }
    for (const host of Object.keys(options.hosts)) {
      for (const ep of this.resolve(host)) this.remember(ep);
    }
  }

  /** Endpoints to try for a registry host, in order: its mirrors, then itself. */
  resolve(host: string): RegistryEndpoint[] {
    const settings = this.options.hosts[host];
    const mirrors = (settings?.mirrors ?? []).map((m) => this.endpoint(m.host, 'mirror', m.plainHttp));
    return [...mirrors, this.endpoint(host, 'upstream', undefined)];
  }

  /** Connect timeout and TLS for an origin (a registry, a mirror, a token realm, blob storage). */
  connectFor(origin: string): OriginConnect {
    return this.origins.get(origin) ?? { timeout: this.options.timeouts.connectMs };
  }

  /** Timeouts for an origin that is not a configured registry (blob storage after a redirect). */
  get defaultTimeouts(): TimeoutOptions {
    return this.options.timeouts;
  }

  private endpoint(host: string, role: RegistryEndpoint['role'], plainHttp: boolean | undefined): RegistryEndpoint {
    const settings: HostOptions | undefined = this.options.hosts[host];
    // A host with TLS settings is HTTPS even on loopback (the settings say it speaks TLS).
    const tls = settings !== undefined && (settings.ca.length > 0 || settings.certFile !== undefined);
    const plain = plainHttp ?? (settings?.plainHttp === true || (isLoopbackHost(host) && !tls));
    const apiHost = host === DEFAULT_HOST ? DOCKER_HUB_API_HOST : host;
    const ep: RegistryEndpoint = {
      host,
      origin: `${plain ? 'http' : 'https'}://${apiHost}`,
      role,
      timeouts: { ...this.options.timeouts, ...settings?.timeouts },
    };
    return ep;
  }

  private remember(ep: RegistryEndpoint): void {
    if (this.origins.has(ep.origin)) return;
    const tls = ep.origin.startsWith('https:') ? this.tls.get(ep.host) : undefined;
    this.origins.set(ep.origin, { timeout: ep.timeouts.connectMs, ...(tls ? { tls } : {}) });
  }
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
