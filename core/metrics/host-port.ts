/**
 * The metrics address, `host:port`: a host name, an IPv4 address or a bracketed IPv6 address,
 * and a port from 0 to 65535 (0: any free port). The host is required: an empty host would
 * listen on every interface, and an endpoint without authentication is only exposed beyond
 * loopback when the operator names such an address (`0.0.0.0:9100`, `[::]:9100`, an interface
 * address).
 */
import { isIP, isIPv6 } from 'node:net';

export interface HostPort {
  /** Without brackets (`::1`, not `[::1]`). */
  host: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const EXAMPLE = 'e.g. 127.0.0.1:9100';

/** The parsed address, or the reason it is not one (a message starting "expected host:port"). */
export function parseHostPort(address: string): HostPort | { error: string } {
  const bad = (why: string) => ({ error: `expected host:port (${EXAMPLE}); ${why}` });
  if (typeof address !== 'string') return bad(`got ${typeof address}`);
  let host: string;
  let port: string;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    if (end < 0 || address[end + 1] !== ':') return bad(`got ${JSON.stringify(address)}`);
    host = address.slice(1, end);
    port = address.slice(end + 2);
    if (!isIPv6(host)) return bad(`${JSON.stringify(host)} is not an IPv6 address`);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) return bad(`got ${JSON.stringify(address)} (no port)`);
    host = address.slice(0, colon);
    port = address.slice(colon + 1);
    if (host === '') return bad('the host is missing: name 127.0.0.1 to scrape locally, or 0.0.0.0 / [::] to listen on every interface');
    if (host.includes(':')) return bad(`put an IPv6 address in brackets: [${host}]:${port}`);
    if (isIP(host) === 0 && !HOSTNAME.test(host)) return bad(`${JSON.stringify(host)} is not a host name or IP address`);
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return bad(`port ${JSON.stringify(port)} is not a number from 0 to 65535`);
  return { host, port: Number(port) };
}

/** `host:port` with brackets around an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for 127.0.0.0/8, ::1, the IPv4-mapped loopback and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}
