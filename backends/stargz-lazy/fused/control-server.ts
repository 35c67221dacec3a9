/**
 * The server side of the control protocol (see control-protocol.ts): node:http on the unix
 * socket, mode 0600. The caller holds the instance lock, so a socket file found at the path is
 * stale and replaced. A client that closes its connection before the answer cancels the
 * request (the mount is undone). `GET /v1/attach` is answered with one line and held open for
 * as long as the client keeps its connection: `busy()` says whether any client is attached or
 * any request is running (the idle exit, idle-exit.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, unlink } from 'node:fs/promises';
import { InvalidArgumentError, NotFoundError, type Logger, type z } from '../../../core/sdk.js';
import {
  MAX_BODY_BYTES,
  checkRequestSchema,
  httpStatusOf,
  mountRequestSchema,
  openRequestSchema,
  unmountRequestSchema,
  type Status,
} from '../protocol/control-protocol.js';
import { credentialsRequestSchema, MAX_CREDENTIALS_BODY_BYTES, type CredentialsAnswer, type CredentialsRequest } from '../protocol/credentials-protocol.js';
import { configUpdateRequestSchema, type ConfigUpdateAnswer } from '../protocol/config-update.js';
import type { FusedConfig } from '../protocol/fused-config.js';
import { toWireError } from '../protocol/fused-errors.js';
import { issueLines } from '../protocol/schema-issues.js';
import type { ServedLayer } from './served-layer.js';
import type { ServedMounts } from './served-mounts.js';

const CLOSE_GRACE_MS = 2_000;

export interface ControlServerOptions {
  socket: string;
  mounts: Pick<ServedMounts<ServedLayer>, 'mount' | 'open' | 'unmount' | 'list' | 'check' | 'metrics'>;
  status: () => Status;
  /** `POST /v1/credentials` (absent: NOT_FOUND, as from a process that predates it). */
  credentials?: { apply(r: CredentialsRequest): CredentialsAnswer };
  /** `POST /v1/config` (protocol/config-update.ts); absent: answered NOT_FOUND. */
  applyConfig?: (config: FusedConfig) => ConfigUpdateAnswer;
  log: Logger;
}

export interface ControlServer {
  /** A client is attached or a request is being answered. */
  busy(): boolean;
  close(): Promise<void>;
}

export async function serveControl(o: ControlServerOptions): Promise<ControlServer> {
  const attached = new Set<ServerResponse>();
  let running = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && new URL(req.url ?? '/', 'http://fused').pathname === '/v1/attach') {
      attach(res, attached);
      return;
    }
    running++;
    const abort = new AbortController();
    res.on('close', () => {
      running--;
      if (!res.writableFinished) abort.abort(new Error('the client closed the connection'));
    });
    route(o, req, abort.signal).then(
      (body) => send(res, 200, body),
      (err: unknown) => {
        const wire = toWireError(err);
        const level = wire.error.code === 'INTERNAL' ? 'error' : 'debug';
        o.log[level]({ err, method: req.method, url: req.url }, 'control request failed');
        send(res, httpStatusOf(wire.error.code), wire);
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // a mount may take as long as the registry does; the client bounds it
  await unlink(o.socket).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await listen(server, o.socket);
  await chmod(o.socket, 0o600);
  o.log.info({ socket: o.socket }, 'control socket listening');
  return {
    busy: () => attached.size > 0 || running > 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of attached) res.end();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still running (a mount waiting for the registry) are cut off after a grace
        // period; cutting the connection cancels them.
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      }),
  };
}

/** Answer at once (headers and one JSON line), then hold the response until the client goes. */
function attach(res: ServerResponse, attached: Set<ServerResponse>): void {
  attached.add(res);
  res.on('close', () => attached.delete(res));
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.write(`${JSON.stringify({ attached: true })}\n`);
}

async function route(o: ControlServerOptions, req: IncomingMessage, signal: AbortSignal): Promise<unknown> {
  const path = new URL(req.url ?? '/', 'http://fused').pathname;
  const key = `${req.method ?? ''} ${path}`;
  switch (key) {
    case 'GET /v1/status':
      return o.status();
    case 'GET /v1/mounts':
      return { mounts: o.mounts.list() };
    case 'POST /v1/mounts': {
      const request = parseBody(mountRequestSchema, await readBody(req));
      return { mount: await o.mounts.mount(request, signal) };
    }
    case 'POST /v1/open': {
      const request = parseBody(openRequestSchema, await readBody(req));
      return { opening: o.mounts.open(request) };
    }
    case 'POST /v1/unmount': {
      const { mountpoint } = parseBody(unmountRequestSchema, await readBody(req));
      return { unmounted: await o.mounts.unmount(mountpoint) };
    }
    case 'POST /v1/check': {
      const { mountpoints } = parseBody(checkRequestSchema, await readBody(req));
      return { layers: await o.mounts.check(mountpoints, signal) };
    }
    case 'GET /v1/metrics':
      return o.mounts.metrics();
    case 'POST /v1/credentials':
      if (o.credentials === undefined) throw new NotFoundError(`no such control request: ${key}`);
      return o.credentials.apply(parseBody(credentialsRequestSchema, await readBody(req, MAX_CREDENTIALS_BODY_BYTES)));
    case 'POST /v1/config': {
      if (!o.applyConfig) throw new NotFoundError(`no such control request: ${key}`);
      const { config } = parseBody(configUpdateRequestSchema, await readBody(req));
      return o.applyConfig(config);
    }
    default:
      throw new NotFoundError(`no such control request: ${key}`);
  }
}

async function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new InvalidArgumentError(`request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new InvalidArgumentError('request body is not JSON');
  }
}

function parseBody<T extends z.ZodTypeAny>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data as z.output<T>;
  const issues = issueLines(parsed.error, '(body)');
  throw new InvalidArgumentError(`invalid request: ${issues.join('; ')}`);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length });
  res.end(data);
}

function listen(server: Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
