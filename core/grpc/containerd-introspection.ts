/**
 * A client of a running containerd's own API for `snaphost check-containerd`: the version service
 * (`containerd.services.version.v1.Version`) and the introspection service
 * (`containerd.services.introspection.v1.Introspection`: `Plugins`, `Server`), answered as plain
 * values (no proto type leaves this file). Every call has a deadline and is cancelled when
 * `signal` fires; a failure is a GrpcCallError (unary-call.ts).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, protoDir } from './proto.js';
import { unaryCall, type CallOptions, type GrpcClientCtor } from './unary-call.js';

const PROTOS = ['containerd/services/version/v1/version.proto', 'containerd/services/introspection/v1/introspection.proto'];

export interface ContainerdVersion {
  /** As containerd reports it: `1.6.20~ds1`, `v2.1.9`, `2.1.9+unknown`. */
  version: string;
  revision: string;
}

export interface ContainerdPlugin {
  /** `io.containerd.snapshotter.v1`, ... */
  type: string;
  id: string;
  exports: Record<string, string>;
  capabilities: string[];
  /** Set when the plugin failed to initialize: containerd cannot use it. */
  initError?: { code: number; message: string };
}

export interface ContainerdServer {
  uuid: string;
  /** containerd's PID in its PID namespace (containerd 2.x; absent on 1.x). */
  pid?: number;
  /** The inode number of that PID namespace (containerd 2.x; absent on 1.x). */
  pidns?: number;
}

let services: { Version: GrpcClientCtor; Introspection: GrpcClientCtor } | undefined;

function containerdServices(): { Version: GrpcClientCtor; Introspection: GrpcClientCtor } {
  if (!services) {
    const definition = protoLoader.loadSync(PROTOS, { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
    type Pkg = { containerd: { services: { version: { v1: Record<string, GrpcClientCtor> }; introspection: { v1: Record<string, GrpcClientCtor> } } } };
    const pkg = grpc.loadPackageDefinition(definition) as unknown as Pkg;
    services = { Version: pkg.containerd.services.version.v1['Version']!, Introspection: pkg.containerd.services.introspection.v1['Introspection']! };
  }
  return services;
}

export async function containerdVersion(address: string, opts: CallOptions): Promise<ContainerdVersion> {
  const res = await unaryCall<{ version?: string; revision?: string }>(containerdServices().Version, address, 'Version', {}, opts);
  return { version: res.version ?? '', revision: res.revision ?? '' };
}

/** Introspection.Plugins; `filters` in containerd's filter syntax (`type==io.containerd.snapshotter.v1`), any one matching. */
export async function containerdPlugins(address: string, filters: readonly string[], opts: CallOptions): Promise<ContainerdPlugin[]> {
  type Wire = { type?: string; id?: string; exports?: Record<string, string>; capabilities?: string[]; initErr?: { code?: number; message?: string } | null };
  const res = await unaryCall<{ plugins?: Wire[] }>(containerdServices().Introspection, address, 'Plugins', { filters: [...filters] }, opts);
  return (res.plugins ?? []).map((p) => ({
    type: p.type ?? '',
    id: p.id ?? '',
    exports: p.exports ?? {},
    capabilities: p.capabilities ?? [],
    ...(p.initErr ? { initError: { code: p.initErr.code ?? 0, message: p.initErr.message ?? '' } } : {}),
  }));
}

export async function containerdServer(address: string, opts: CallOptions): Promise<ContainerdServer> {
  const res = await unaryCall<{ uuid?: string; pid?: string; pidns?: string }>(containerdServices().Introspection, address, 'Server', {}, opts);
  const num = (v: string | undefined) => (v !== undefined && v !== '0' ? Number(v) : undefined);
  const pid = num(res.pid);
  const pidns = num(res.pidns);
  return { uuid: res.uuid ?? '', ...(pid !== undefined ? { pid } : {}), ...(pidns !== undefined ? { pidns } : {}) };
}
