/**
 * `fromSnapshotter(sn)`: the one adapter from the backend contract to the
 * `containerd.services.snapshots.v1.Snapshots` gRPC service. Per call it validates the
 * request, builds the `Call` (signal, namespace, logger), runs the backend method under the
 * backend's CallTracker, converts the result, maps any error through `status.ts` and, when
 * it ends, tells `observe` (metrics) the method, final status and duration.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, NotImplementedError, type SnaphostError, UnavailableError, describe, isSnaphostError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseFilters } from '../snapshots/filters.js';
import { checkKeyLength } from '../snapshots/key-limit.js';
import { MAX_LABEL_BYTES } from '../snapshots/labels.js';
import type { Call, Info, Snapshotter } from '../snapshots/snapshotter.js';
import type { CallTracker } from './call-tracker.js';
import { infoToProto, labelsFromProto, mountsToProto, usageToProto } from './convert.js';
import type { Info as ProtoInfo } from './generated/containerd/services/snapshots/v1/Info.js';
import type { ListSnapshotsRequest__Output } from './generated/containerd/services/snapshots/v1/ListSnapshotsRequest.js';
import type { ListSnapshotsResponse } from './generated/containerd/services/snapshots/v1/ListSnapshotsResponse.js';
import type { SnapshotsHandlers } from './generated/containerd/services/snapshots/v1/Snapshots.js';
import { normalizeError, toServiceError } from './status.js';

export interface AdapterOptions {
  /** Instance name, used in INTERNAL messages. */
  backend: string;
  /** The backend's logger; each call logs through `log.child({ method, key })`. */
  log: Logger;
  calls: CallTracker;
  /**
   * Told once per RPC, when it ends: the method (`Prepare`, …, `List` at the end of its
   * stream), the final gRPC status name (`OK`, `NOT_FOUND`, …; `CANCELLED` when the client
   * cancelled or its deadline passed) and the duration in seconds. Must not throw.
   */
  observe?: RpcObserver;
}

/** See `AdapterOptions.observe` (the metrics endpoint's per-RPC counters and histograms). */
export type RpcObserver = (method: string, code: string, seconds: number) => void;

/** Infos per List message (containerd's own snapshots service sends 100). */
export const LIST_BATCH_SIZE = 100;
/** A List message is also sent once its infos reach about this many bytes (clients cap messages at 4-16 MiB). */
export const LIST_BATCH_BYTES = 1 << 20;
export const NAMESPACE_HEADER = 'containerd-namespace';

type Level = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVEL: Record<string, Level> = {
  NOT_FOUND: 'debug',
  ALREADY_EXISTS: 'debug', // also the remote-snapshot signal of prepare
  NOT_IMPLEMENTED: 'debug', // containerd's GC calls Cleanup on every run
  INVALID_ARGUMENT: 'info',
  FAILED_PRECONDITION: 'info',
  UNAVAILABLE: 'warn',
};

interface OpenCall {
  call: Call;
  /** Log the failure once and turn it into the status to answer with. */
  fail(err: unknown): Partial<grpc.StatusObject>;
  /** The call is over: report it to `observe` (once) and detach its listeners. */
  close(status: grpc.status): void;
}

export function fromSnapshotter(sn: Snapshotter, opts: AdapterOptions): SnapshotsHandlers {
  const { backend, calls } = opts;

  function open(server: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, method: string, key: string): OpenCall {
    const started = performance.now();
    const controller = new AbortController();
    const onCancel = () => controller.abort(new UnavailableError(`${method}: cancelled by the client or its deadline`));
    const onHostAbort = () => {
      const r: unknown = calls.signal.reason;
      controller.abort(isSnaphostError(r) ? r : new UnavailableError(`the backend is shutting down: ${describe(r)}`));
    };
    server.on('cancelled', onCancel);
    if (server.cancelled) onCancel();
    if (calls.signal.aborted) onHostAbort();
    else calls.signal.addEventListener('abort', onHostAbort, { once: true });

    const log = opts.log.child(key ? { method, key } : { method });
    log.trace('started');
    const ns = server.metadata.get(NAMESPACE_HEADER)[0];
    const call: Call = { signal: controller.signal, log };
    if (typeof ns === 'string' && ns !== '') call.namespace = ns;

    return {
      call,
      fail(err) {
        const { signal } = controller;
        if (signal.aborted && (err === signal.reason || (err instanceof Error && err.name === 'AbortError'))) {
          const e = signal.reason as SnaphostError;
          log.debug({ code: e.code }, e.message);
          return toServiceError(e);
        }
        const e = normalizeError(err, backend, method);
        if (e.code === 'INTERNAL') log.error({ err: e.cause instanceof Error ? e.cause : e }, e.message);
        else log[LOG_LEVEL[e.code] ?? 'warn']({ code: e.code }, e.message);
        return toServiceError(e);
      },
      close(status) {
        server.off('cancelled', onCancel);
        calls.signal.removeEventListener('abort', onHostAbort);
        if (!opts.observe) return;
        const code = server.cancelled ? 'CANCELLED' : (grpc.status[status] ?? 'UNKNOWN');
        try {
          opts.observe(method, code, (performance.now() - started) / 1000);
        } catch (err) {
          log.error({ err }, 'the RPC observer threw');
        }
      },
    };
  }

  function unary<Req, Res>(method: string, keyOf: (req: Req) => string, body: (req: Req, call: Call) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (server, callback) => {
      const c = open(server, method, keyOf(server.request));
      let status = grpc.status.OK;
      calls
        .run(() => body(server.request, c.call))
        .then(
          (res) => {
            c.call.log.trace('ok');
            callback(null, res);
          },
          (err: unknown) => {
            const e = c.fail(err);
            status = e.code ?? grpc.status.UNKNOWN;
            callback(e);
          },
        )
        .catch((err: unknown) => c.call.log.error({ err }, 'cannot send the answer'))
        .finally(() => c.close(status));
    };
  }

  const list: grpc.handleServerStreamingCall<ListSnapshotsRequest__Output, ListSnapshotsResponse> = (server) => {
    const c = open(server, 'List', '');
    let status = grpc.status.OK;
    calls
      .run(() => streamList(sn, server, c.call))
      .then(
        () => {
          c.call.log.trace('ok');
          server.end();
        },
        (err: unknown) => {
          const e = c.fail(err);
          status = e.code ?? grpc.status.UNKNOWN;
          server.emit('error', e);
        },
      )
      .catch((err: unknown) => c.call.log.error({ err }, 'cannot end the stream'))
      .finally(() => c.close(status));
  };

  return {
    Prepare: unary('Prepare', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      checkKeyLength('parent', r.parent);
      checkLabels(r.labels);
      return { mounts: mountsToProto(await sn.prepare(r.key, r.parent, labelsFromProto(r.labels), call)) };
    }),
    View: unary('View', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      checkKeyLength('parent', r.parent);
      checkLabels(r.labels);
      return { mounts: mountsToProto(await sn.view(r.key, r.parent, labelsFromProto(r.labels), call)) };
    }),
    Mounts: unary('Mounts', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      return { mounts: mountsToProto(await sn.mounts(r.key, call)) };
    }),
    Commit: unary('Commit', (r) => r.key, async (r, call) => {
      requireNonEmpty('name', r.name);
      requireNonEmpty('key', r.key);
      checkLabels(r.labels);
      if (r.parent !== '') {
        // containerd 2.x sends a parent only to rebase, a capability snaphost does not advertise.
        const current = infoToProto(await sn.stat(r.key, call)).parent;
        if (current !== r.parent) {
          throw new NotImplementedError(`commit ${JSON.stringify(r.key)} onto parent ${JSON.stringify(r.parent)}: rebase is not supported (its parent is ${JSON.stringify(current)})`);
        }
      }
      await sn.commit(r.name, r.key, labelsFromProto(r.labels), call);
      return {};
    }),
    Remove: unary('Remove', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      await sn.remove(r.key, call);
      return {};
    }),
    Stat: unary('Stat', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      return { info: infoToProto(await sn.stat(r.key, call)) };
    }),
    Update: unary('Update', (r) => r.info?.name ?? '', async (r, call) => {
      if (!r.info) throw new InvalidArgumentError('update: info is required');
      requireNonEmpty('info.name', r.info.name);
      checkLabels(r.info.labels);
      const paths = r.updateMask?.paths ?? [];
      for (const p of paths) {
        if (p !== 'labels' && !(p.startsWith('labels.') && p.length > 'labels.'.length)) {
          throw new InvalidArgumentError(`cannot update ${JSON.stringify(p)} field on snapshot ${JSON.stringify(r.info.name)}`);
        }
      }
      const info = await sn.update({ name: r.info.name, labels: labelsFromProto(r.info.labels) }, [...paths], call);
      return { info: infoToProto(info) };
    }),
    List: list,
    Usage: unary('Usage', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      return usageToProto(await sn.usage(r.key, call));
    }),
    Cleanup: unary('Cleanup', () => '', async (_r, call) => {
      if (typeof sn.cleanup !== 'function') throw new NotImplementedError(`${backend}: cleanup is not implemented`);
      await sn.cleanup(call);
      return {};
    }),
  };
}

async function streamList(sn: Snapshotter, server: grpc.ServerWritableStream<ListSnapshotsRequest__Output, ListSnapshotsResponse>, call: Call): Promise<void> {
  const filter = parseFilters(server.request.filters);
  const items: unknown = sn.list(filter, call);
  if (!isIterable(items)) throw new TypeError(`list() must return an Iterable or AsyncIterable of Info, got ${describeValue(items)}`);
  let batch: ProtoInfo[] = [];
  let bytes = 0;
  for await (const info of items) {
    if (call.signal.aborted) throw call.signal.reason;
    const proto = infoToProto(info); // validates before the filter reads it
    if (!filter.match(info)) continue;
    batch.push(proto);
    bytes += approximateSize(info);
    if (batch.length >= LIST_BATCH_SIZE || bytes >= LIST_BATCH_BYTES) {
      await send(server, { info: batch }, call.signal);
      batch = [];
      bytes = 0;
    }
  }
  if (call.signal.aborted) throw call.signal.reason;
  if (batch.length > 0) await send(server, { info: batch }, call.signal);
}

/** Write one message, waiting for 'drain' when the client is slower than the backend. */
function send(stream: grpc.ServerWritableStream<unknown, ListSnapshotsResponse>, message: ListSnapshotsResponse, signal: AbortSignal): Promise<void> {
  if (stream.write(message)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      signal.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      stream.off('drain', done);
      reject(signal.reason);
    };
    stream.once('drain', done);
    signal.addEventListener('abort', abort, { once: true });
  });
}

function approximateSize(info: Info): number {
  let n = 64 + info.name.length + info.parent.length;
  for (const k in info.labels) n += 8 + k.length + info.labels[k]!.length;
  return n;
}

function isIterable(v: unknown): v is AsyncIterable<never> | Iterable<never> {
  return typeof v === 'object' && v !== null && (Symbol.asyncIterator in v || Symbol.iterator in v);
}

function describeValue(v: unknown): string {
  if (v === null || typeof v !== 'object') return v === null ? 'null' : typeof v;
  return v.constructor?.name ?? 'object';
}

/** A key, name or parent must be a non-empty string within MAX_KEY_BYTES. */
function requireNonEmpty(what: string, value: string): void {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`${what} must not be empty`);
  checkKeyLength(what, value);
}

/** containerd's labels.Validate: key + value of each label at most MAX_LABEL_BYTES bytes. */
function checkLabels(labels: Record<string, string> | null | undefined): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const size = Buffer.byteLength(k) + Buffer.byteLength(v);
    if (size > MAX_LABEL_BYTES) {
      const shown = k.length > 64 ? `${k.slice(0, 64)}…` : k;
      throw new InvalidArgumentError(`label ${JSON.stringify(shown)}: key and value are ${size} bytes, more than the maximum of ${MAX_LABEL_BYTES}`);
    }
  }
}
