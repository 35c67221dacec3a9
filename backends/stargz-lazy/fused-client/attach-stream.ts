/**
 * The client's side of `GET /v1/attach` (control-protocol.ts): one connection held open for as
 * long as a `FusedClient` is connected, so the process knows a snaphost uses it and does not
 * exit when idle (idle-exit.ts). Closing the client closes the connection; the process's own
 * exit (stop, crash) ends it from the other side, which is only logged: the next control
 * request finds out and the link reconnects.
 */
import { request, type ClientRequest } from 'node:http';
import type { Logger } from '../../../core/sdk.js';
import { FusedUnreachableError } from '../protocol/fused-errors.js';

export interface AttachStream {
  close(): void;
  /** True while the process holds the connection (false once it ended it, after close, or when it does not know attach). */
  readonly attached: boolean;
}

/** Resolves once the process answered the attach (NotFound from a process too old to know it: detached, but usable). */
export function attachTo(socket: string, log: Logger, timeoutMs: number): Promise<AttachStream> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest | undefined;
    let settled = false;
    let closing = false;
    let attached = false;
    const timer = setTimeout(() => fail(new FusedUnreachableError(`FUSE process at ${socket}: no answer to GET /v1/attach within ${timeoutMs} ms`)), timeoutMs);
    const handle: AttachStream = {
      close: () => {
        closing = true;
        attached = false;
        req?.destroy();
      },
      get attached() {
        return attached;
      },
    };
    function fail(err: Error): void {
      clearTimeout(timer);
      attached = false;
      if (settled) {
        if (!closing) log.debug({ err }, 'the FUSE-serving process ended the attach connection');
        return;
      }
      settled = true;
      req?.destroy();
      reject(err);
    }
    req = request({ socketPath: socket, method: 'GET', path: '/v1/attach', agent: false }, (res) => {
      clearTimeout(timer);
      if (res.statusCode === 404) {
        res.resume();
        log.debug('the FUSE-serving process does not know GET /v1/attach (an older version): not attached');
        settled = true;
        resolve(handle);
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        fail(new FusedUnreachableError(`FUSE process at ${socket}: GET /v1/attach answered HTTP ${res.statusCode ?? 0}`));
        return;
      }
      settled = true;
      attached = true;
      resolve(handle);
      res.on('data', () => undefined);
      res.on('end', () => fail(new Error('the attach connection ended')));
      res.on('error', (err) => fail(err));
    });
    // The held connection alone must not keep snaphost's process alive.
    req.on('socket', (sock) => sock.unref());
    req.on('error', (err) => fail(new FusedUnreachableError(`FUSE process at ${socket}: ${err.message}`, { cause: err })));
    req.end();
  });
}
