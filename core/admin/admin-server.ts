/**
 * The daemon's side of the admin socket (see admin-protocol.ts). The socket is bound inside a
 * fresh 0700 directory, chmod'ed to 0600 and only then renamed into place, so there is no
 * moment at which another user could connect. A live admin socket (another daemon on the same
 * socketDir) is refused with SocketInUseError; a stale one is replaced.
 */
import { chmod, mkdtemp, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { describe } from '../contract/errors.js';
import { claimSocket } from '../grpc/serve-unix.js';
import type { Logger } from '../logger.js';
import type { ReloadResult } from '../reload/reload-result.js';
import type { DaemonReport } from '../status/status-report.js';
import { ADMIN_ROUTES, ADMIN_SOCKET_MODE, MAX_REQUEST_BODY_BYTES, type AdminRoute } from './admin-protocol.js';

export interface AdminHandlers {
  status(signal: AbortSignal): Promise<DaemonReport>;
  reload(): Promise<ReloadResult>;
}

export interface AdminServer {
  readonly socket: string;
  /** Stop accepting, end idle connections, remove the socket (if still ours). */
  close(): Promise<void>;
}

export async function serveAdmin(o: { socket: string; handlers: AdminHandlers; log: Logger }): Promise<AdminServer> {
  const socket = await claimSocket(o.socket, o.log);
  const server = createServer((req, res) => {
    handle(req, res, o.handlers, o.log).catch((err: unknown) => {
      o.log.error({ err }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: describe(err) });
      else res.destroy();
    });
  });
  server.requestTimeout = 0; // a reload can take as long as draining and starting backends
  const tmp = await mkdtemp(join(dirname(socket), `.${basename(socket)}.`));
  const staging = join(tmp, 'sock');
  let bound: { dev: number; ino: number };
  try {
    await listen(server, staging);
    await chmod(staging, ADMIN_SOCKET_MODE);
    await rename(staging, socket);
    bound = await stat(socket);
  } catch (err) {
    server.close();
    await unlink(staging).catch(() => undefined);
    throw err;
  } finally {
    await rmdir(tmp).catch(() => undefined);
  }
  o.log.info({ socket }, 'admin socket listening');
  let closing: Promise<void> | undefined;
  return {
    socket,
    close() {
      closing ??= (async () => {
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        });
        const now = await stat(socket).catch(() => undefined);
        if (now && now.dev === bound.dev && now.ino === bound.ino) await unlink(socket).catch(() => undefined);
      })();
      return closing;
    },
  };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(path, () => {
      server.off('error', fail);
      done();
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, handlers: AdminHandlers, log: Logger): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const route = (Object.keys(ADMIN_ROUTES) as AdminRoute[]).find((r) => ADMIN_ROUTES[r].path === url.pathname);
  if (!route) return send(res, 404, { error: `no such admin endpoint: ${url.pathname}` });
  const { method } = ADMIN_ROUTES[route];
  if (req.method !== method) {
    res.setHeader('allow', method);
    return send(res, 405, { error: `${url.pathname} takes ${method}, not ${req.method}` });
  }
  const bodyBytes = await drainBody(req);
  if (bodyBytes > MAX_REQUEST_BODY_BYTES) {
    res.destroy(); // the request is already cut off (drainBody); nothing sensible to answer
    return;
  }
  if (bodyBytes > 0) return send(res, 400, { error: `${req.method} ${url.pathname} takes no request body` });
  const gone = new AbortController();
  res.once('close', () => gone.abort(new Error('the admin client went away')));
  switch (route) {
    case 'ping':
      return send(res, 200, { pid: process.pid });
    case 'status':
      return send(res, 200, await handlers.status(gone.signal));
    case 'reload': {
      log.info('reload requested on the admin socket');
      const result = await handlers.reload();
      return send(res, result.ok ? 200 : 422, result);
    }
  }
}

/** Read and discard the request body; its size (counting stops past the limit). */
async function drainBody(req: IncomingMessage): Promise<number> {
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > MAX_REQUEST_BODY_BYTES) {
      req.destroy();
      break;
    }
  }
  return n;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
