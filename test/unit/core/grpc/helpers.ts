/**
 * Test helpers: serve a snapshotter through the real adapter on a temporary unix socket and
 * talk to it with the core client's raw grpc-js stub (proto messages, for tests of the wire
 * itself; `connectSnapshots` from core/grpc/snapshots-client.ts for the contract's methods).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { CallTracker } from '../../../../core/grpc/call-tracker.js';
import type { Info__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/Info.js';
import type { ListSnapshotsResponse__Output } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/ListSnapshotsResponse.js';
import type { SnapshotsClient } from '../../../../core/grpc/generated/containerd/services/snapshots/v1/Snapshots.js';
import { snapshotsStub } from '../../../../core/grpc/snapshots-client.js';
import { type UnixServer, serveUnix } from '../../../../core/grpc/serve-unix.js';
import type { RequestLimits } from '../../../../core/grpc/request-limits.js';
import { type RpcObserver, fromSnapshotter } from '../../../../core/grpc/snapshots-service.js';
import type { Logger } from '../../../../core/logger.js';
import { NotImplementedError } from '../../../../core/contract/errors.js';
import type { Snapshotter } from '../../../../core/contract/snapshotter.js';

export const silentLog: Logger = pino({ level: 'silent' });

export async function tempDir(prefix = 'snaphost-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A client on the socket; `own` gives it its own connection (no subchannel shared with other clients). */
export function newClient(socket: string, opts: { own?: boolean } = {}): SnapshotsClient {
  return snapshotsStub(socket, { ownConnection: opts.own === true });
}

export interface Served {
  client: SnapshotsClient;
  server: UnixServer;
  calls: CallTracker;
  dir: string;
  socket: string;
  /** Close client and server and remove the temp dir. */
  close(graceMs?: number): Promise<void>;
}

export async function serve(sn: Snapshotter, opts: { backend?: string; log?: Logger; observe?: RpcObserver; limits?: RequestLimits } = {}): Promise<Served> {
  const dir = await tempDir();
  const socket = join(dir, 'sock', 'snapshots.sock');
  const calls = new CallTracker();
  const log = opts.log ?? silentLog;
  const implementation = fromSnapshotter(sn, {
    backend: opts.backend ?? 'test',
    log,
    calls,
    ...(opts.observe ? { observe: opts.observe } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const server = await serveUnix({ socket, mode: 0o660, implementation, log });
  const client = newClient(socket);
  return {
    client,
    server,
    calls,
    dir,
    socket,
    async close(graceMs = 1000) {
      client.close();
      await server.close(graceMs);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;

/** Promisify one unary call: `await unary<R>((cb) => client.stat({ key }, cb))`. */
export function unary<T>(invoke: (cb: Callback<T>) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    invoke((err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

/** The gRPC error a promise rejects with (fails the test when it resolves). */
export async function grpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

export interface Listed {
  infos: Info__Output[];
  batchSizes: number[];
}

/** Read a whole List stream. */
export function listAll(client: SnapshotsClient, filters: string[] = [], metadata = new grpc.Metadata()): Promise<Listed> {
  return new Promise((resolve, reject) => {
    const out: Listed = { infos: [], batchSizes: [] };
    const stream = client.list({ filters }, metadata);
    stream.on('data', (m: ListSnapshotsResponse__Output) => {
      out.batchSizes.push(m.info.length);
      out.infos.push(...m.info);
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}

/** A snapshotter whose every method fails unless `overrides` provides it (cleanup/close absent). */
export function fakeSnapshotter(overrides: Partial<Snapshotter> = {}): Snapshotter {
  const unexpected = (m: string) => () => {
    throw new NotImplementedError(`fake: unexpected call to ${m}`);
  };
  return {
    stat: unexpected('stat'),
    update: unexpected('update'),
    usage: unexpected('usage'),
    mounts: unexpected('mounts'),
    prepare: unexpected('prepare'),
    view: unexpected('view'),
    commit: unexpected('commit'),
    remove: unexpected('remove'),
    list: unexpected('list'),
    ...overrides,
  };
}
