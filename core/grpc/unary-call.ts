/**
 * One bounded unary call of a gRPC CLIENT over a unix socket, for the clients snaphost uses to
 * look at a running containerd (cri-runtime.ts, containerd-introspection.ts): a fresh channel per
 * call (closed after it), a deadline, cancelled when `signal` fires, and every failure a
 * `GrpcCallError` with the gRPC status name. No proto type leaves the callers.
 */
import * as grpc from '@grpc/grpc-js';

export interface CallOptions {
  signal: AbortSignal;
  /** Deadline of each call (ms from now). */
  timeoutMs: number;
}

/** A gRPC failure of a client call, with the gRPC status name (`UNIMPLEMENTED`: not served; `UNAVAILABLE`: nothing answers). */
export class GrpcCallError extends Error {
  constructor(
    readonly method: string,
    readonly status: string,
    details: string,
  ) {
    super(`${method}: ${status}: ${details}`);
    this.name = 'GrpcCallError';
  }
}

export interface GrpcClientCtor {
  new (address: string, credentials: grpc.ChannelCredentials): grpc.Client & Record<string, (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<unknown>) => grpc.ClientUnaryCall>;
}

/** `method` of the service `Ctor` on the unix socket `address`. */
export function unaryCall<T>(Ctor: GrpcClientCtor, address: string, method: string, request: object, opts: CallOptions): Promise<T> {
  if (opts.signal.aborted) return Promise.reject(new GrpcCallError(method, 'CANCELLED', `aborted before the call: ${String(opts.signal.reason)}`));
  const client = new Ctor(`unix://${address}`, grpc.credentials.createInsecure());
  return new Promise<T>((resolve, reject) => {
    const call = client[method]!(request, new grpc.Metadata(), { deadline: Date.now() + opts.timeoutMs }, (err, res) => {
      opts.signal.removeEventListener('abort', onAbort);
      if (err) {
        const e = err as grpc.ServiceError;
        reject(new GrpcCallError(method, grpc.status[e.code] ?? String(e.code), e.details || e.message));
      } else resolve(res as T);
    });
    const onAbort = () => call.cancel();
    opts.signal.addEventListener('abort', onAbort, { once: true });
  }).finally(() => client.close());
}
