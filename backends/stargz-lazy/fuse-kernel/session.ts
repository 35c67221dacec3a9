/**
 * The session of one FUSE connection: requests read from the /dev/fuse descriptor in the event
 * loop (FuseDevice.poll), decoded (wire/request.ts), answered (a RequestHandler: layer-requests.ts)
 * and the replies written with one writev each (a read's bytes as their own part, not copied).
 *
 * The connection's own requests are answered here:
 * - INIT: negotiated (init-negotiation.ts); `initialised` resolves with the flags agreed.
 * - INTERRUPT: the request it names, when still in flight (only reads wait), is aborted and
 *   answers EINTR; for one not (or no longer) in flight the interrupt answers EAGAIN, as the
 *   protocol asks (the kernel then re-queues it while the request is pending, or drops it).
 * - FORGET / BATCH_FORGET: no reply (the protocol has none); node ids are the layer's stable
 *   tree inodes (node-ids.ts), so there is nothing to free.
 * - DESTROY: an empty reply. Opcodes nobody serves: ENOSYS (the kernel stops sending some).
 *
 * Robustness: a request that does not decode answers EIO for its unique when the header could be
 * read (logged once per session, then counted); a handler that throws answers EIO and logs; one
 * bad request never stops the others. Everything but reads is answered synchronously; a slow read
 * never holds other requests (its reply is written when it settles).
 *
 * The session ends when the device reports the end (ENODEV: unmounted or aborted) or `stop` is
 * called: reads in flight are aborted, the descriptor is closed (the session owns it), and
 * `ended` resolves with the errno. It never mounts anything: mount-kernel.ts mounts and then
 * serves; a connection handed over by another process is served the same way.
 */
import { close } from 'node:fs';
import type { Logger } from '../../../core/sdk.js';
import { EIO } from '../fs/errno.js';
import type { FuseDevice } from './fuse-device.js';
import { negotiateInit, type InitOptions } from './init-negotiation.js';
import type { RequestHandler } from './layer-requests.js';
import { initFlagNames, OP, opName } from './wire/opcodes.js';
import { replyEmpty, replyError, replyInit } from './wire/reply.js';
import { decodeRequest, type Request, type SupportedRequest } from './wire/request.js';
import { WireError } from './wire/wire-error.js';

export interface SessionOptions {
  device: FuseDevice;
  /** An open /dev/fuse connection; the session owns it from now on (closes it when it ends). */
  fd: number;
  handler: RequestHandler;
  init: InitOptions;
  log: Logger;
  /** Requests read per wakeup of the poll (fairness against the rest of the event loop). */
  batch?: number;
}

export interface Session {
  /** Resolves with the capabilities agreed once INIT is answered; rejects when the session ends before. */
  readonly initialised: Promise<bigint>;
  /** Resolves with the errno the connection ended with (ENODEV: unmounted or aborted; 0: stopped). */
  readonly ended: Promise<number>;
  /** Requests in flight now (reads waiting for their bytes). */
  readonly inFlight: number;
  /** Stops serving and closes the descriptor (the kernel then fails the mount's requests with ENOTCONN). */
  stop(): void;
}

const EAGAIN = 11;
const ENOENT = 2;
const ENOSYS = 38;
const EPROTO = 71;
/**
 * The device read buffer: requests of a read-only layer are small (names ≤ 255 bytes, no write
 * data: max_write is the minimum), and the kernel wants ≥ 8 KiB (FUSE_MIN_READ_BUFFER) and
 * ≥ header + write header + max_write.
 */
const READ_BUFFER_BYTES = 64 * 1024;
const BATCH = 64;

export function serveSession(o: SessionOptions): Session {
  const { device, fd, handler, log } = o;
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  /** Reads in flight by unique, to interrupt them. */
  const inFlight = new Map<bigint, AbortController>();
  let badRequests = 0;
  let writeErrors = 0;
  let done = false;
  let initDone!: (flags: bigint) => void;
  let initFailed!: (err: Error) => void;
  const initialised = new Promise<bigint>((resolve, reject) => ((initDone = resolve), (initFailed = reject)));
  initialised.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  let endedWith!: (errno: number) => void;
  const ended = new Promise<number>((resolve) => (endedWith = resolve));

  const write = (parts: Uint8Array[], unique: bigint): void => {
    if (done) return;
    const n = device.writev(fd, parts);
    // ENOENT: the kernel no longer waits for this request (interrupted and answered, aborted).
    if (n < 0 && n !== -ENOENT && writeErrors++ === 0) log.warn({ errno: -n, unique: unique.toString() }, `writing a FUSE reply failed (errno ${-n}); later failures are counted, not logged`);
  };

  const answer = (req: SupportedRequest): void => {
    const u = req.unique;
    let controller: AbortController | undefined;
    if (req.opcode === OP.READ) {
      controller = new AbortController();
      inFlight.set(u, controller);
    }
    let result;
    try {
      result = handler.handle(req, controller?.signal);
    } catch (err) {
      inFlight.delete(u);
      log.error({ err, op: opName(req.opcode), nodeid: req.nodeid.toString() }, `${opName(req.opcode)} failed unexpectedly (EIO)`);
      return write(replyError(u, EIO), u);
    }
    if (result === undefined) {
      inFlight.delete(u);
      return;
    }
    if (Array.isArray(result)) {
      inFlight.delete(u);
      return write(result, u);
    }
    result.then(
      (parts) => {
        inFlight.delete(u);
        write(parts, u);
      },
      (err: unknown) => {
        inFlight.delete(u);
        log.error({ err, op: opName(req.opcode) }, `${opName(req.opcode)} failed unexpectedly (EIO)`);
        write(replyError(u, EIO), u);
      },
    );
  };

  const connection = (req: Request): boolean => {
    switch (req.opcode) {
      case OP.INIT: {
        const r = req as Extract<Request, { opcode: typeof OP.INIT }>;
        const outcome = negotiateInit(r, o.init);
        if ('retry' in outcome) {
          write(replyInit(r.unique, outcome.retry), r.unique);
          return true;
        }
        if ('unsupported' in outcome) {
          write(replyError(r.unique, EPROTO), r.unique);
          initFailed(new Error(outcome.unsupported));
          return true;
        }
        write(replyInit(r.unique, outcome.reply), r.unique);
        log.debug({ minor: outcome.reply.minor, kernelMinor: r.minor, flags: initFlagNames(outcome.flags), maxPages: outcome.reply.maxPages }, 'FUSE connection initialised');
        initDone(outcome.flags);
        return true;
      }
      case OP.INTERRUPT: {
        const r = req as Extract<Request, { opcode: typeof OP.INTERRUPT }>;
        const c = inFlight.get(r.interrupted);
        if (c) c.abort(new Error('interrupted by the kernel'));
        else write(replyError(r.unique, EAGAIN), r.unique);
        return true;
      }
      case OP.FORGET:
      case OP.BATCH_FORGET:
        return true;
      case OP.DESTROY:
        write(replyEmpty(req.unique), req.unique);
        return true;
      default:
        if ('unsupported' in req) {
          write(replyError(req.unique, ENOSYS), req.unique);
          return true;
        }
        return false;
    }
  };

  const onRequest = (length: number): void => {
    let req: Request;
    try {
      req = decodeRequest(buffer, length);
    } catch (err) {
      const unique = err instanceof WireError ? err.unique : undefined;
      if (badRequests++ === 0) log.warn({ err, unique: unique?.toString(), opcode: (err as WireError).opcode }, `a malformed FUSE request (answered EIO): ${(err as Error).message}; later ones are counted, not logged`);
      if (unique !== undefined && unique !== 0n) write(replyError(unique, EIO), unique);
      return;
    }
    try {
      if (!connection(req)) answer(req as SupportedRequest);
    } catch (err) {
      log.error({ err, op: opName(req.opcode) }, `${opName(req.opcode)} failed unexpectedly (EIO)`);
      write(replyError(req.unique, EIO), req.unique);
    }
  };

  const finish = (errno: number): void => {
    if (done) return;
    done = true;
    for (const c of inFlight.values()) c.abort(new Error('the FUSE connection ended'));
    inFlight.clear();
    initFailed(new Error(`the FUSE connection ended (errno ${errno}) before INIT`));
    close(fd, (err) => {
      if (err) log.warn({ err, fd }, 'closing the FUSE connection failed');
      if (badRequests > 1 || writeErrors > 1) log.warn({ badRequests, writeErrors }, 'FUSE session ended with malformed requests or failed replies');
      endedWith(errno);
    });
  };

  const poll = device.poll(fd, buffer, o.batch ?? BATCH, onRequest, finish);
  return {
    initialised,
    ended,
    get inFlight() {
      return inFlight.size;
    },
    stop() {
      poll.stop();
      finish(0);
    },
  };
}
