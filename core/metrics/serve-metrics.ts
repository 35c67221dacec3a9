/**
 * The opt-in metrics endpoint: `GET /metrics` (and HEAD) on the `host:port` the operator
 * configured, Prometheus text format. Anything else is 404, other methods 405. There is no
 * authentication: bind it to loopback, or to an address only the scraper can reach.
 *
 * What a client beyond loopback can cost is bounded: at most `maxConnections` connections at
 * once (more are closed at accept), request headers of at most 8 KiB within 10 s, a whole
 * request within 30 s, idle keep-alive connections closed after 5 s; a scrape never starts more
 * than one status call per backend (scrape-status.ts: rate-limited, single-flight, bounded).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, describe } from '../contract/errors.js';
import { DEFAULT_MAX_CONNECTIONS } from './metrics-defaults.js';
import type { Logger } from '../logger.js';
import { formatHostPort, isLoopback, parseHostPort } from './host-port.js';
import type { SnaphostMetrics } from './snaphost-metrics.js';

export interface MetricsServer {
  /** The address it listens on (`host:port`, the real port when 0 was asked for). */
  readonly address: string;
  /** Stop listening and close open connections. */
  close(): Promise<void>;
}

export const METRICS_PATH = '/metrics';
/** Request headers larger than this are refused (431): a scrape's are a few hundred bytes. */
export const MAX_HEADER_BYTES = 8 * 1024;

export interface MetricsServerLimits {
  /** Connections accepted at once (default 16); more are closed at accept. */
  maxConnections?: number;
}

export async function serveMetrics(metrics: Pick<SnaphostMetrics, 'render'>, address: string, log: Logger, limits: MetricsServerLimits = {}): Promise<MetricsServer> {
  const parsed = parseHostPort(address);
  if ('error' in parsed) throw new ConfigError([{ path: 'metrics.address', message: parsed.error }]);
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    handle(metrics, req, res).catch((err: unknown) => {
      log.error({ err }, 'metrics: cannot render');
      if (!res.headersSent) answer(res, 500, `cannot render metrics: ${describe(err)}\n`);
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = limits.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.maxHeadersCount = 64;
  let refused = 0;
  server.on('drop', () => {
    // Logged once per 1000 so that a flood does not flood the log.
    if (refused++ % 1000 === 0) log.warn({ maxConnections: server.maxConnections, refused }, 'metrics: too many connections; refusing new ones');
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(new Error(`metrics: cannot listen on ${address}: ${err.code ?? ''} ${err.message}`.replace(/ {2,}/g, ' '), { cause: err }));
    server.once('error', fail);
    server.listen({ host: parsed.host, port: parsed.port, exclusive: true }, () => {
      server.off('error', fail);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'metrics: server error'));
  const bound = server.address() as AddressInfo;
  const listening = formatHostPort(parsed.host, bound.port);
  if (isLoopback(parsed.host)) log.info({ address: listening }, `serving metrics on http://${listening}${METRICS_PATH}`);
  else log.warn({ address: listening }, `serving metrics on http://${listening}${METRICS_PATH}, beyond loopback and without authentication`);

  let closing: Promise<void> | undefined;
  return {
    address: listening,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(metrics: Pick<SnaphostMetrics, 'render'>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '').split('?', 1)[0];
  if (path !== METRICS_PATH) return answer(res, 404, `not found; metrics are at ${METRICS_PATH}\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return answer(res, 405, `method ${req.method ?? ''} not allowed; use GET\n`);
  }
  const { contentType, body } = await metrics.render();
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
