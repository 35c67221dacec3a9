/**
 * A client of containerd's CRI plugin (Kubernetes' `runtime.v1` RuntimeService / ImageService,
 * the subset in proto/k8s.io/cri-api/...) for the CRI findings of a running containerd
 * (core/containerd-check/cri-findings.ts): the two read-only calls they make, answered as plain
 * values (no proto type leaves this file). Every call has a deadline and is cancelled when
 * `signal` fires; a failure is a GrpcCallError (unary-call.ts).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, protoDir } from './proto.js';
import { unaryCall, type CallOptions, type GrpcClientCtor } from './unary-call.js';

const CRI_PROTO = 'k8s.io/cri-api/pkg/apis/runtime/v1/api.proto';

export interface CriCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

/** RuntimeService.Status with verbose = true: conditions, and `info` (values are JSON text; `config` is the effective CRI config). */
export interface CriStatus {
  conditions: CriCondition[];
  info: Record<string, string>;
}

export type CriCallOptions = CallOptions;

let services: { RuntimeService: GrpcClientCtor; ImageService: GrpcClientCtor } | undefined;

function criServices(): { RuntimeService: GrpcClientCtor; ImageService: GrpcClientCtor } {
  if (!services) {
    const definition = protoLoader.loadSync(CRI_PROTO, { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
    const v1 = (grpc.loadPackageDefinition(definition) as unknown as { runtime: { v1: Record<string, GrpcClientCtor> } }).runtime.v1;
    services = { RuntimeService: v1['RuntimeService']!, ImageService: v1['ImageService']! };
  }
  return services;
}

export async function criStatus(address: string, opts: CriCallOptions): Promise<CriStatus> {
  const res = await unaryCall<{ status?: { conditions?: CriCondition[] }; info?: Record<string, string> }>(criServices().RuntimeService, address, 'Status', { verbose: true }, opts);
  return { conditions: res.status?.conditions ?? [], info: res.info ?? {} };
}

/** ImageService.ImageFsInfo: the mount points it names for images (the first is CRI's default snapshotter's). */
export async function criImageFsMountpoints(address: string, opts: CriCallOptions): Promise<string[]> {
  const res = await unaryCall<{ imageFilesystems?: { fsId?: { mountpoint?: string } }[] }>(criServices().ImageService, address, 'ImageFsInfo', {}, opts);
  return (res.imageFilesystems ?? []).map((f) => f.fsId?.mountpoint ?? '');
}
