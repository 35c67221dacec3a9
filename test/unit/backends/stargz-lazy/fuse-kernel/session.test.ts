/**
 * The session loop against a scripted device (no kernel): INIT negotiation, replies written per
 * request, INTERRUPT of a read in flight (EINTR) and of an unknown request (EAGAIN), FORGET
 * without a reply, ENOSYS for opcodes nobody serves, and the robustness rules: a malformed
 * request answers EIO for its unique, a handler that throws answers EIO, and neither stops the
 * requests after it; the end closes the descriptor and aborts reads in flight.
 */
import { openSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { FuseDevice } from '../../../../../backends/stargz-lazy/fuse-kernel/fuse-device.js';
import type { Answer, RequestHandler } from '../../../../../backends/stargz-lazy/fuse-kernel/layer-requests.js';
import { serveSession } from '../../../../../backends/stargz-lazy/fuse-kernel/session.js';
import { INIT, OP } from '../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import { replyData, replyEmpty, replyError } from '../../../../../backends/stargz-lazy/fuse-kernel/wire/reply.js';
import type { SupportedRequest } from '../../../../../backends/stargz-lazy/fuse-kernel/wire/request.js';

interface Reply {
  unique: bigint;
  error: number;
  body: Buffer;
}

/** A device whose requests the test sends and whose replies it reads. */
function scripted() {
  const replies: Reply[] = [];
  let onRequest!: (n: number) => void;
  let onEnd!: (errno: number) => void;
  let buffer!: Buffer;
  let stopped = false;
  const device = {
    poll(_fd: number, buf: Buffer, _batch: number, req: (n: number) => void, end: (e: number) => void) {
      buffer = buf;
      onRequest = req;
      onEnd = end;
      return { stop: () => void (stopped = true) };
    },
    writev(_fd: number, parts: readonly Uint8Array[]) {
      const all = Buffer.concat(parts);
      expect(all.readUInt32LE(0)).toBe(all.length);
      replies.push({ unique: all.readBigUInt64LE(8), error: all.readInt32LE(4), body: all.subarray(16) });
      return all.length;
    },
  } as unknown as FuseDevice;
  const send = (opcode: number, unique: bigint, body: Buffer = Buffer.alloc(0), nodeid = 1n, declared?: number) => {
    const len = 40 + body.length;
    buffer.fill(0, 0, 40);
    buffer.writeUInt32LE(declared ?? len, 0);
    buffer.writeUInt32LE(opcode, 4);
    buffer.writeBigUInt64LE(unique, 8);
    buffer.writeBigUInt64LE(nodeid, 16);
    body.copy(buffer, 40);
    onRequest(len);
  };
  return { device, replies, send, end: (e: number) => onEnd(e), stopped: () => stopped };
}

function initBody(major: number, minor: number, flags: bigint): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(major, 0);
  b.writeUInt32LE(minor, 4);
  b.writeUInt32LE(131072, 8);
  b.writeUInt32LE(Number(flags & 0xffff_ffffn), 12);
  b.writeUInt32LE(Number(flags >> 32n), 16);
  return b;
}

function readBody(size: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(size, 16);
  return b;
}

/** Reads hang until the test settles them; GETATTR of node 66 throws. */
function handler() {
  const pending = new Map<bigint, { resolve: (a: Uint8Array[]) => void; signal: AbortSignal }>();
  const h: RequestHandler = {
    handle(req: SupportedRequest, interrupt?: AbortSignal): Answer {
      if (req.opcode === OP.GETATTR && req.nodeid === 66n) throw new Error('a bug');
      if (req.opcode === OP.READ) {
        return new Promise((resolve) => {
          pending.set(req.unique, { resolve, signal: interrupt! });
          interrupt!.addEventListener('abort', () => resolve(replyError(req.unique, 4)));
        });
      }
      return replyEmpty(req.unique);
    },
  };
  return { h, pending };
}

const ALL = INIT.ASYNC_READ | INIT.DO_READDIRPLUS | INIT.READDIRPLUS_AUTO | INIT.PARALLEL_DIROPS | INIT.CACHE_SYMLINKS | INIT.MAX_PAGES | INIT.INIT_EXT | INIT.PASSTHROUGH;

describe('serveSession', () => {
  it('negotiates INIT: the smaller minor, the wanted flags the kernel offers, max_pages, ns times', async () => {
    const d = scripted();
    const s = serveSession({ device: d.device, fd: openSync('/dev/null', 'r'), handler: handler().h, init: { maxPages: 256 }, log: pino({ level: 'silent' }) });
    d.send(OP.INIT, 1n, initBody(7, 45, ALL));
    const flags = await s.initialised;
    expect(flags).toBe(INIT.ASYNC_READ | INIT.DO_READDIRPLUS | INIT.PARALLEL_DIROPS | INIT.CACHE_SYMLINKS | INIT.MAX_PAGES);
    const r = d.replies[0]!;
    expect(r.error).toBe(0);
    expect(r.body.readUInt32LE(4)).toBe(40); // minor: ours (7.40) is the smaller
    expect(r.body.readUInt32LE(8)).toBe(131072);
    expect(r.body.readUInt32LE(24)).toBe(1); // time_gran
    expect(r.body.readUInt16LE(28)).toBe(256); // max_pages
    d.end(19);
    expect(await s.ended).toBe(19);
  });

  it('answers a later major with ours (the kernel asks again), and an older one with EPROTO', async () => {
    const d = scripted();
    const s = serveSession({ device: d.device, fd: openSync('/dev/null', 'r'), handler: handler().h, init: { maxPages: 256 }, log: pino({ level: 'silent' }) });
    d.send(OP.INIT, 1n, initBody(8, 0, ALL));
    expect(d.replies[0]!.body.readUInt32LE(0)).toBe(7);
    d.send(OP.INIT, 2n, initBody(6, 9, ALL));
    expect(d.replies[1]!.error).toBe(-71);
    await expect(s.initialised).rejects.toThrow(/FUSE 6.9/);
    s.stop();
    expect(d.stopped()).toBe(true);
    expect(await s.ended).toBe(0);
  });

  it('interrupts a read in flight (EINTR), answers EAGAIN for an unknown one, and serves other requests meanwhile', async () => {
    const d = scripted();
    const { h, pending } = handler();
    const s = serveSession({ device: d.device, fd: openSync('/dev/null', 'r'), handler: h, init: { maxPages: 256 }, log: pino({ level: 'silent' }) });
    d.send(OP.INIT, 1n, initBody(7, 40, ALL));
    d.send(OP.READ, 10n, readBody(4096), 5n);
    d.send(OP.READ, 12n, readBody(4096), 5n);
    expect(s.inFlight).toBe(2);
    d.send(OP.GETATTR, 14n, Buffer.alloc(16), 5n);
    expect(d.replies.at(-1)).toMatchObject({ unique: 14n, error: 0 });
    const interrupt = Buffer.alloc(8);
    interrupt.writeBigUInt64LE(10n);
    d.send(OP.INTERRUPT, 11n, interrupt, 0n);
    await new Promise((r) => setImmediate(r));
    expect(pending.get(10n)!.signal.aborted).toBe(true);
    expect(d.replies.at(-1)).toMatchObject({ unique: 10n, error: -4 });
    interrupt.writeBigUInt64LE(99n);
    d.send(OP.INTERRUPT, 13n, interrupt, 0n);
    expect(d.replies.at(-1)).toMatchObject({ unique: 13n, error: -11 });
    pending.get(12n)!.resolve(replyData(12n, Buffer.from('data')));
    await new Promise((r) => setImmediate(r));
    expect(d.replies.at(-1)).toMatchObject({ unique: 12n, error: 0 });
    expect(String(d.replies.at(-1)!.body)).toBe('data');
    expect(s.inFlight).toBe(0);
    d.send(OP.READ, 16n, readBody(4096), 5n);
    d.end(19);
    expect(pending.get(16n)!.signal.aborted).toBe(true);
    await s.ended;
  });

  it('keeps serving after a malformed request (EIO for its unique), a throwing handler (EIO), FORGET (no reply) and an unknown opcode (ENOSYS)', async () => {
    const d = scripted();
    const s = serveSession({ device: d.device, fd: openSync('/dev/null', 'r'), handler: handler().h, init: { maxPages: 256 }, log: pino({ level: 'silent' }) });
    d.send(OP.INIT, 1n, initBody(7, 40, ALL));
    d.send(OP.GETATTR, 20n, Buffer.alloc(16), 1n, 999); // length mismatch
    expect(d.replies.at(-1)).toMatchObject({ unique: 20n, error: -5 });
    d.send(OP.LOOKUP, 22n, Buffer.from('a/b\0'));
    expect(d.replies.at(-1)).toMatchObject({ unique: 22n, error: -5 });
    d.send(OP.GETATTR, 24n, Buffer.alloc(16), 66n);
    expect(d.replies.at(-1)).toMatchObject({ unique: 24n, error: -5 });
    const count = d.replies.length;
    d.send(OP.FORGET, 26n, Buffer.alloc(8), 5n);
    expect(d.replies.length).toBe(count);
    d.send(OP.SETXATTR, 28n, Buffer.alloc(16));
    expect(d.replies.at(-1)).toMatchObject({ unique: 28n, error: -38 });
    d.send(OP.GETATTR, 30n, Buffer.alloc(16), 1n);
    expect(d.replies.at(-1)).toMatchObject({ unique: 30n, error: 0 });
    d.end(19);
    await s.ended;
  });
});
