/**
 * One grpc.Server per unix socket. A socket file left by a dead process is replaced; one a live
 * process still accepts connections on is refused (SocketInUseError), and so is any other kind
 * of file. `close()` lets in-flight calls finish for a grace period, then cuts them off.
 */
import { chmod, lstat, mkdir, stat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SocketInUseError } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { warmUpCodecs } from './warm-up-codecs.js';
import { snapshotsService } from './proto.js';

export interface UnixServer {
  /** Absolute path of the socket. */
  readonly socket: string;
  /** Stop accepting calls, wait up to `graceMs` for in-flight ones, then force; remove the socket. */
  close(graceMs: number): Promise<void>;
}

export interface ServeUnixOptions {
  socket: string;
  /** File mode of the socket, e.g. 0o660. */
  mode: number;
  implementation: grpc.UntypedServiceImplementation;
  log: Logger;
  /** The service served; default containerd's Snapshots (its codecs warmed up first). */
  service?: grpc.ServiceDefinition;
  /** grpc.Server options (message size bounds, ...). */
  serverOptions?: grpc.ServerOptions;
}

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const PROBE_TIMEOUT_MS = 1000;

/**
 * Make `socket` bindable: check the path, create its directory, remove a stale socket file.
 * Throws SocketInUseError when a live process serves it. The daemon calls this before a
 * backend's `create` runs, so a second snaphost fails before touching the first one's state;
 * `serveUnix` calls it again right before binding.
 */
export async function claimSocket(path: string, log: Logger): Promise<string> {
  const socket = resolve(path);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`socket path ${socket} is ${Buffer.byteLength(socket)} bytes; unix sockets allow at most ${MAX_SOCKET_PATH_BYTES}`);
  }
  await mkdir(dirname(socket), { recursive: true });
  await removeStaleSocket(socket, log);
  return socket;
}

export async function serveUnix(o: ServeUnixOptions): Promise<UnixServer> {
  if (!Number.isInteger(o.mode) || o.mode < 0 || o.mode > 0o777) throw new Error(`socket mode ${o.mode} is not a permission mode (0 to 0o777)`);
  const socket = await claimSocket(o.socket, o.log);

  const server = new grpc.Server(o.serverOptions);
  if (o.service) server.addService(o.service, o.implementation);
  else {
    const service = snapshotsService();
    warmUpCodecs(service, o.log);
    server.addService(service, o.implementation);
  }
  await new Promise<void>((done, fail) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? fail(new Error(`cannot listen on ${socket}: ${err.message}`, { cause: err })) : done())),
  );
  let bound: { dev: number; ino: number };
  try {
    await chmod(socket, o.mode);
    bound = await stat(socket);
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  o.log.info({ socket, mode: `0${o.mode.toString(8)}` }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    socket,
    close(graceMs) {
      closing ??= (async () => {
        await shutdown(server, graceMs, o.log);
        // Remove the socket only if it is still ours (not one a successor already bound).
        const now = await stat(socket).catch(() => undefined);
        if (now && now.dev === bound.dev && now.ino === bound.ino) await unlink(socket).catch(() => undefined);
        o.log.info({ socket }, 'closed');
      })();
      return closing;
    },
  };
}

function shutdown(server: grpc.Server, graceMs: number, log: Logger): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(() => {
      log.warn({ graceMs }, 'calls still in flight after the grace period; cancelling them');
      server.forceShutdown();
      done();
    }, Math.max(0, graceMs));
    server.tryShutdown(() => {
      clearTimeout(timer);
      done();
    });
  });
}

/** Unlink `socket` if it is a socket nobody listens on; refuse a live socket or any other file. */
async function removeStaleSocket(socket: string, log: Logger): Promise<void> {
  const st = await lstat(socket).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return;
  if (!st.isSocket()) throw new Error(`${socket} exists and is not a socket; refusing to replace it`);
  if (await accepts(socket)) throw new SocketInUseError(socket);
  log.info({ socket }, 'removing stale socket');
  await unlink(socket).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Whether some process accepts connections on `socket` (ECONNREFUSED: nobody does). */
function accepts(socket: string): Promise<boolean> {
  return new Promise((done, fail) => {
    const conn = connect({ path: socket });
    const finish = (result: boolean | Error) => {
      clearTimeout(timer);
      conn.destroy();
      if (result instanceof Error) fail(result);
      else done(result);
    };
    // No answer in time: someone holds it but is not accepting (backlog full). Treat as live.
    const timer = setTimeout(() => finish(true), PROBE_TIMEOUT_MS);
    conn.once('connect', () => finish(true));
    conn.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') finish(false);
      else if (err.code === 'EAGAIN') finish(true);
      else finish(new Error(`cannot probe existing socket ${socket}: ${err.message}`, { cause: err }));
    });
  });
}
