/**
 * How to reach a registry host: scheme, origin and timeouts, from the registry options.
 * Loopback hosts (`localhost`, 127.0.0.0/8, ::1) are plain HTTP like containerd's
 * `docker.MatchLocalhost`; others are HTTPS unless the options say `plainHttp`.
 *
 * `resolve()` returns an ordered list of endpoints so mirrors (issue 5) slot in before the
 * upstream endpoint without changing any caller: readers try them in order.
 */
import { isIP } from 'node:net';
import { DEFAULT_HOST } from './reference.js';
import type { RegistryOptions, TimeoutOptions } from './options.js';

/** The host docker.io's registry API is served from. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface RegistryEndpoint {
  /** The registry host as written in image references (`docker.io`, `127.0.0.1:5000`). */
  host: string;
  /** `scheme://host[:port]` requests go to. */
  origin: string;
  /** Upstream registry or a mirror of it. */
  role: 'upstream' | 'mirror';
  timeouts: TimeoutOptions;
}

export class RegistryHosts {
  constructor(private readonly options: Pick<RegistryOptions, 'hosts' | 'timeouts'>) {}

  /** Endpoints to try for a registry host, in order. */
  resolve(host: string): RegistryEndpoint[] {
    return [this.upstream(host)];
  }

  /** Timeouts for an origin that is not a configured registry (blob storage after a redirect). */
  get defaultTimeouts(): TimeoutOptions {
    return this.options.timeouts;
  }

  private upstream(host: string): RegistryEndpoint {
    const settings = this.options.hosts[host];
    const plain = settings?.plainHttp === true || isLoopbackHost(host);
    const apiHost = host === DEFAULT_HOST ? DOCKER_HUB_API_HOST : host;
    return {
      host,
      origin: `${plain ? 'http' : 'https'}://${apiHost}`,
      role: 'upstream',
      timeouts: { ...this.options.timeouts, ...settings?.timeouts },
    };
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
