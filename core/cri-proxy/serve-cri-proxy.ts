/**
 * The CRI image-service proxy (`criProxy` in the config): serves `runtime.v1.ImageService` on
 * `listen` and forwards every call to containerd's CRI on `upstream`, transparently: the
 * request and response bytes as they are (fields this proto does not know survive), the
 * caller's metadata, the response headers and trailers, the deadline (the caller's, capped by
 * `callTimeoutMs` / `pullTimeoutMs`), cancellation, and the upstream's error code and message.
 * An upstream that does not answer is UNAVAILABLE naming its socket. More than
 * `maxConcurrentCalls` in flight: RESOURCE_EXHAUSTED. Message sizes are bounded both ways.
 *
 * Only images go through here: kubelet keeps `--container-runtime-endpoint` on containerd.
 * What is learned from PullImage / RemoveImage: learn-credentials.ts; where it is kept:
 * credential-store.ts (handed to every backend as `ctx.registryCredentials`).
 */
import * as grpc from '@grpc/grpc-js';
import { rawImageService } from '../grpc/cri-image-service.js';
import { serveUnix, type UnixServer } from '../grpc/serve-unix.js';
import type { Logger } from '../logger.js';
import type { CriProxyOptions } from './cri-proxy-options.js';
import { CredentialStore } from './credential-store.js';
import { forgetRemoved, readPull, scrub, startPull, type PullIntent } from './learn-credentials.js';
import { Upstream, type ForwardResult } from './upstream.js';

export interface CriProxy {
  readonly listen: string;
  readonly upstream: string;
  readonly credentials: CredentialStore;
  /** Stop accepting, let calls in flight finish for `graceMs`, close the upstream channel. */
  close(graceMs: number): Promise<void>;
}

/** The proxy's own ListImages after a RemoveImage waits at most this long (or callTimeoutMs). */
const LIST_AFTER_REMOVE_MS = 30_000;

/** Headers grpc-js sets itself on the upstream call. */
const OWN_HEADERS = new Set(['user-agent', 'content-type', 'te', 'host', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding']);

export async function startCriProxy(o: CriProxyOptions, root: Logger): Promise<CriProxy> {
  const log = root.child({ component: 'cri-proxy' });
  const credentials = new CredentialStore({ ttlMs: o.credentialsTtlMs, maxRepositories: o.maxRepositories, log });
  const upstream = new Upstream(o.upstream, o.maxMessageBytes);
  let inFlight = 0;

  const handler = (method: string, path: string): grpc.handleUnaryCall<Buffer, Buffer> => (call, callback) => {
    if (inFlight >= o.maxConcurrentCalls) {
      callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: `the CRI proxy has ${inFlight} calls in flight (criProxy.maxConcurrentCalls); retry later` });
      return;
    }
    inFlight++;
    const started = Date.now();
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort());
    void proxyCall(method, path, call.request, call.metadata, deadlineOf(call, method), cancelled.signal)
      .then(({ result, secrets }) => {
        if (result.headers) call.sendMetadata(result.headers);
        if (result.error) {
          const e = result.error;
          const details = unavailable(e, result, upstream) ?? scrub(e.details, secrets);
          log.debug({ method, code: grpc.status[e.code] ?? e.code, ms: Date.now() - started }, 'forwarded call failed');
          callback({ code: e.code, details, metadata: e.metadata });
        } else {
          log.debug({ method, ms: Date.now() - started }, 'forwarded');
          callback(null, result.response, result.trailers);
        }
      })
      .catch((err: unknown) => {
        log.error({ method, err: { message: err instanceof Error ? err.message : String(err) } }, 'the CRI proxy failed to forward a call');
        callback({ code: grpc.status.INTERNAL, details: `the CRI proxy failed to forward ${method}` });
      })
      .finally(() => inFlight--);
  };

  async function proxyCall(method: string, path: string, request: Buffer, md: grpc.Metadata, deadline: number, signal: AbortSignal): Promise<{ result: ForwardResult; secrets: string[] }> {
    const pull: PullIntent | undefined = method === 'PullImage' ? readPull(request, log) : undefined;
    const undoPull = pull ? startPull(pull, credentials) : undefined;
    const result = await upstream.forward(path, request, { metadata: forwardedMetadata(md), deadline, signal });
    if (result.error) undoPull?.();
    else {
      if (method === 'RemoveImage') await forgetRemoved(credentials, upstream, Date.now() + Math.min(o.callTimeoutMs, LIST_AFTER_REMOVE_MS), log);
    }
    return { result, secrets: pull?.secrets ?? [] };
  }

  function deadlineOf(call: grpc.ServerUnaryCall<Buffer, Buffer>, method: string): number {
    const own = Date.now() + (method === 'PullImage' ? o.pullTimeoutMs : o.callTimeoutMs);
    const d = call.getDeadline();
    const theirs = d instanceof Date ? d.getTime() : d;
    return Number.isFinite(theirs) ? Math.min(theirs, own) : own;
  }

  const service = rawImageService();
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(service)) implementation[name] = handler(name, m.path);
  let server: UnixServer;
  try {
    server = await serveUnix({
      socket: o.listen,
      mode: o.socketMode,
      implementation,
      log,
      service,
      serverOptions: { 'grpc.max_receive_message_length': o.maxMessageBytes, 'grpc.max_send_message_length': o.maxMessageBytes },
    });
  } catch (err) {
    upstream.close();
    credentials.close();
    throw err;
  }
  log.info({ listen: server.socket, upstream: o.upstream }, `CRI image service proxy on ${server.socket}, forwarding to ${o.upstream}`);
  let closing: Promise<void> | undefined;
  return {
    listen: server.socket,
    upstream: o.upstream,
    credentials,
    close(graceMs) {
      closing ??= server.close(graceMs).finally(() => {
        upstream.close();
        credentials.close();
      });
      return closing;
    },
  };
}

function forwardedMetadata(md: grpc.Metadata): grpc.Metadata {
  const out = md.clone();
  for (const key of Object.keys(out.getMap())) if (OWN_HEADERS.has(key) || key.startsWith(':')) out.remove(key);
  return out;
}

/**
 * UNAVAILABLE from the connection (nothing listens, containerd restarting), not from containerd:
 * the message names the socket, with grpc-js's reason. containerd's own UNAVAILABLE (it sent
 * headers, or the channel is connected) passes through as it is.
 */
function unavailable(e: grpc.ServiceError, r: ForwardResult, upstream: Upstream): string | undefined {
  if (e.code !== grpc.status.UNAVAILABLE || r.headers !== undefined || upstream.connected()) return undefined;
  return `containerd's CRI socket ${upstream.socket} is unavailable (criProxy.upstream): ${e.details}`;
}
