/**
 * A client of containerd's CRI plugin (Kubernetes' `runtime.v1` RuntimeService / ImageService,
 * the subset in proto/k8s.io/cri-api/...) for the CRI findings of a running containerd
 * (core/containerd-check/cri-findings.ts): the two read-only calls they make, answered as plain
 * values (no proto type leaves this file). Every call has a deadline and is cancelled when
 * `signal` fires.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, protoDir } from './proto.js';

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

export interface CriCallOptions {
  signal: AbortSignal;
  /** Deadline of each call (ms from now). */
  timeoutMs: number;
}

/** A gRPC failure of a CRI call, with the gRPC status name (`UNIMPLEMENTED`: CRI is not served; `UNAVAILABLE`: nothing answers). */
export class CriCallError extends Error {
  constructor(
    readonly method: string,
    readonly status: string,
    details: string,
  ) {
    super(`${method}: ${status}: ${details}`);
    this.name = 'CriCallError';
  }
}

interface GrpcClientCtor {
  new (address: string, credentials: grpc.ChannelCredentials): grpc.Client & Record<string, (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<unknown>) => grpc.ClientUnaryCall>;
}

let services: { RuntimeService: GrpcClientCtor; ImageService: GrpcClientCtor } | undefined;

function criServices(): { RuntimeService: GrpcClientCtor; ImageService: GrpcClientCtor } {
  if (!services) {
    const definition = protoLoader.loadSync(CRI_PROTO, { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
    const v1 = (grpc.loadPackageDefinition(definition) as unknown as { runtime: { v1: Record<string, GrpcClientCtor> } }).runtime.v1;
    services = { RuntimeService: v1['RuntimeService']!, ImageService: v1['ImageService']! };
  }
  return services;
}

function unary<T>(Ctor: GrpcClientCtor, address: string, method: string, request: object, opts: CriCallOptions): Promise<T> {
  const client = new Ctor(`unix://${address}`, grpc.credentials.createInsecure());
  return new Promise<T>((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(new CriCallError(method, 'CANCELLED', `aborted before the call: ${String(opts.signal.reason)}`));
      return;
    }
    const call = client[method]!(request, new grpc.Metadata(), { deadline: Date.now() + opts.timeoutMs }, (err, res) => {
      opts.signal.removeEventListener('abort', onAbort);
      if (err) {
        const e = err as grpc.ServiceError;
        reject(new CriCallError(method, grpc.status[e.code] ?? String(e.code), e.details || e.message));
      } else resolve(res as T);
    });
    const onAbort = () => call.cancel();
    opts.signal.addEventListener('abort', onAbort, { once: true });
  }).finally(() => client.close());
}

export async function criStatus(address: string, opts: CriCallOptions): Promise<CriStatus> {
  const res = await unary<{ status?: { conditions?: CriCondition[] }; info?: Record<string, string> }>(criServices().RuntimeService, address, 'Status', { verbose: true }, opts);
  return { conditions: res.status?.conditions ?? [], info: res.info ?? {} };
}

/** ImageService.ImageFsInfo: the mount points it names for images (the first is CRI's default snapshotter's). */
export async function criImageFsMountpoints(address: string, opts: CriCallOptions): Promise<string[]> {
  const res = await unary<{ imageFilesystems?: { fsId?: { mountpoint?: string } }[] }>(criServices().ImageService, address, 'ImageFsInfo', {}, opts);
  return (res.imageFilesystems ?? []).map((f) => f.fsId?.mountpoint ?? '');
}
