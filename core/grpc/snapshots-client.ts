/**
 * The one Snapshots gRPC client (containerd's `snapshots/proxy`): `connectSnapshots(socket)`
 * gives an object with the contract's methods over a unix socket, so a caller talks to any
 * snapshotter (snaphost, containerd's own, containerd's Snapshots service) as to a backend
 * instance. Requests and replies go through `convert.ts`; a failed call rejects with the SDK
 * error class its status maps to (`status.ts`), anything else with the grpc-js error.
 */
import * as grpc from '@grpc/grpc-js';
import type { Info, InfoUpdate, Labels, Mount, SnapshotFilter, Usage } from '../contract/snapshotter.js';
import { infoFromProto, infoUpdateToProto, labelsToProto, mountFromProto, usageFromProto } from './convert.js';
import type { ListSnapshotsResponse__Output } from './generated/containerd/services/snapshots/v1/ListSnapshotsResponse.js';
import type { SnapshotsClient } from './generated/containerd/services/snapshots/v1/Snapshots.js';
import type { ProtoGrpcType } from './generated/snapshots.js';
import type { Mount__Output } from './generated/containerd/types/Mount.js';
import { snapshotsPackageDefinition } from './proto.js';
import { NAMESPACE_HEADER } from './snapshots-service.js';
import { errorFromStatus } from './status.js';

/** Per call, all optional: the contract's `Call` fits (its `log` is not sent). */
export interface ClientCall {
  /** Aborting it cancels the call (the server sees its call's signal aborted). */
  signal?: AbortSignal;
  /** containerd namespace of this call (`containerd-namespace` header); default: the connection's. */
  namespace?: string;
  deadline?: grpc.Deadline;
}

export interface ConnectOptions {
  /** The `snapshotter` field of every request: containerd's Snapshots service picks the snapshotter by it (a proxy snapshotter ignores it). */
  snapshotter?: string;
  /** containerd namespace sent with every call, unless the call names its own. */
  namespace?: string;
  /** A connection of its own, not shared with other clients of the same socket. */
  ownConnection?: boolean;
}

/** A Snapshots server on a socket, with the contract's methods (every default argument empty). */
export interface SnapshotsConnection {
  readonly socket: string;
  stat(key: string, call?: ClientCall): Promise<Info>;
  update(info: InfoUpdate, fieldpaths?: string[], call?: ClientCall): Promise<Info>;
  usage(key: string, call?: ClientCall): Promise<Usage>;
  mounts(key: string, call?: ClientCall): Promise<Mount[]>;
  prepare(key: string, parent?: string, labels?: Labels, call?: ClientCall): Promise<Mount[]>;
  view(key: string, parent?: string, labels?: Labels, call?: ClientCall): Promise<Mount[]>;
  commit(name: string, key: string, labels?: Labels, call?: ClientCall): Promise<void>;
  remove(key: string, call?: ClientCall): Promise<void>;
  /** Every snapshot the server lists, as it streams them; filters are ORed, none = all. Breaking out cancels the stream. */
  list(filters?: readonly string[] | SnapshotFilter, call?: ClientCall): AsyncIterable<Info>;
  /** Rejects with NotImplementedError when the server has no Cleanup. */
  cleanup(call?: ClientCall): Promise<void>;
  /** Resolves once the channel is connected; rejects after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  close(): void;
}

/** The raw grpc-js client of the Snapshots service on `socket` (proto messages in and out): for tests of the wire itself. */
export function snapshotsStub(socket: string, options: { ownConnection?: boolean } = {}): SnapshotsClient {
  const pkg = grpc.loadPackageDefinition(snapshotsPackageDefinition()) as unknown as ProtoGrpcType;
  const channel: grpc.ChannelOptions = options.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {};
  return new pkg.containerd.services.snapshots.v1.Snapshots(`unix:${socket}`, grpc.credentials.createInsecure(), channel);
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;
type UnaryMethod = (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback<unknown>) => grpc.ClientUnaryCall;

export function connectSnapshots(socket: string, options: ConnectOptions = {}): SnapshotsConnection {
  const stub = snapshotsStub(socket, options);
  const snapshotter = options.snapshotter ?? '';
  const metadata = (call: ClientCall | undefined): grpc.Metadata => {
    const md = new grpc.Metadata();
    const ns = call?.namespace ?? options.namespace;
    if (ns !== undefined && ns !== '') md.set(NAMESPACE_HEADER, ns);
    return md;
  };
  const callOptions = (call: ClientCall | undefined): grpc.CallOptions => (call?.deadline !== undefined ? { deadline: call.deadline } : {});

  function unary<T>(method: keyof SnapshotsClient, request: object, call: ClientCall | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const signal = call?.signal;
      const onAbort = () => pending.cancel();
      const pending = (stub[method] as unknown as UnaryMethod).call(stub, { snapshotter, ...request }, metadata(call), callOptions(call), (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(errorFromStatus(err));
        else resolve(res as T);
      });
      if (signal?.aborted) pending.cancel();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  const mounts = (res: { mounts: Mount__Output[] }) => res.mounts.map(mountFromProto);

  return {
    socket,
    async stat(key, call) {
      const res = await unary<{ info: Parameters<typeof infoFromProto>[0] }>('Stat', { key }, call);
      return infoFromProto(res.info);
    },
    async update(info, fieldpaths = [], call) {
      const res = await unary<{ info: Parameters<typeof infoFromProto>[0] }>('Update', { info: infoUpdateToProto(info), updateMask: { paths: fieldpaths } }, call);
      return infoFromProto(res.info);
    },
    async usage(key, call) {
      return usageFromProto(await unary('Usage', { key }, call));
    },
    async mounts(key, call) {
      return mounts(await unary('Mounts', { key }, call));
    },
    async prepare(key, parent = '', labels = {}, call) {
      return mounts(await unary('Prepare', { key, parent, labels: labelsToProto(labels) }, call));
    },
    async view(key, parent = '', labels = {}, call) {
      return mounts(await unary('View', { key, parent, labels: labelsToProto(labels) }, call));
    },
    async commit(name, key, labels = {}, call) {
      await unary('Commit', { name, key, labels: labelsToProto(labels) }, call);
    },
    async remove(key, call) {
      await unary('Remove', { key }, call);
    },
    list(filters = [], call) {
      const source = 'source' in filters ? filters.source : filters;
      return listInfos(stub.List({ snapshotter, filters: [...source] }, metadata(call), callOptions(call)), call?.signal);
    },
    async cleanup(call) {
      await unary('Cleanup', {}, call);
    },
    ready(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        stub.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(new Error(`${socket}: ${err.message}`)) : resolve()));
      });
    },
    close() {
      stub.close();
    },
  };
}

/** The Infos of a List stream, one at a time; the stream is cancelled when the reader stops early or `signal` aborts. */
async function* listInfos(stream: grpc.ClientReadableStream<ListSnapshotsResponse__Output>, signal: AbortSignal | undefined): AsyncGenerator<Info> {
  const onAbort = () => stream.cancel();
  if (signal?.aborted) stream.cancel();
  else signal?.addEventListener('abort', onAbort, { once: true });
  let ended = false;
  try {
    for await (const res of stream as AsyncIterable<ListSnapshotsResponse__Output>) {
      for (const info of res.info) yield infoFromProto(info);
    }
    ended = true;
  } catch (err) {
    ended = true;
    throw isServiceError(err) ? errorFromStatus(err) : err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!ended) stream.cancel();
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'details' in err;
}
