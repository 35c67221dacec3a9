/**
 * `fromSnapshotter(sn)`: the one adapter from the backend contract to the
 * `containerd.services.snapshots.v1.Snapshots` gRPC service. Per call it validates the
 * request, builds the `Call` (signal, namespace, logger), runs the backend method under the
 * backend's CallTracker, converts the result, maps any error through `status.ts` and, when
 * it ends, tells `observe` (metrics) the method, final status and duration.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, NotImplementedError, type SnaphostError, UnavailableError, describe, isSnaphostError } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { checkKeyLength } from '../contract/key-limit.js';
import { checkLabelLimits } from '../contract/label-limits.js';
import type { Call, Snapshotter } from '../contract/snapshotter.js';
import { applyLabelUpdate } from '../contract/update.js';
import { quoteInput, truncateInput } from '../text/truncate.js';
import type { CallTracker } from './call-tracker.js';
import { KeyedLock } from '../runtime/keyed-lock.js';
import { streamList } from './list-stream.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './request-limits.js';
import { infoToProto, labelsFromProto, mountsToProto, usageToProto } from './convert.js';
import type { ListSnapshotsRequest__Output } from './generated/containerd/services/snapshots/v1/ListSnapshotsRequest.js';
import type { ListSnapshotsResponse } from './generated/containerd/services/snapshots/v1/ListSnapshotsResponse.js';
import type { SnapshotsHandlers } from './generated/containerd/services/snapshots/v1/Snapshots.js';
import { normalizeError, statusMessage, toServiceError } from './status.js';

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
  /** Bounds on filters and label sets (the config's `limits`); defaults: DEFAULT_REQUEST_LIMITS. */
  limits?: RequestLimits;
}

/** See `AdapterOptions.observe` (the metrics endpoint's per-RPC counters and histograms). */
export type RpcObserver = (method: string, code: string, seconds: number) => void;

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
  const limits = opts.limits ?? DEFAULT_REQUEST_LIMITS;
  const updates = new KeyedLock();

  /** Per-label (containerd) and per-snapshot bounds of a label set. */
  const checkLabels = (labels: Record<string, string> | null | undefined, key: string) => checkLabelLimits(labels, limits, `snapshot ${quoteInput(key)}`);

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

    const log = opts.log.child(key ? { method, key: truncateInput(key) } : { method });
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
          log.debug({ code: e.code }, statusMessage(e));
          return toServiceError(e);
        }
        const e = normalizeError(err, backend, method);
        if (e.code === 'INTERNAL') log.error({ err: e.cause instanceof Error ? e.cause : e }, statusMessage(e));
        else log[LOG_LEVEL[e.code] ?? 'warn']({ code: e.code }, statusMessage(e));
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
      .run(() => streamList(sn, server, c.call, limits))
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
      checkLabels(r.labels, r.key);
      return { mounts: mountsToProto(await sn.prepare(r.key, r.parent, labelsFromProto(r.labels), call)) };
    }),
    View: unary('View', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      checkKeyLength('parent', r.parent);
      checkLabels(r.labels, r.key);
      return { mounts: mountsToProto(await sn.view(r.key, r.parent, labelsFromProto(r.labels), call)) };
    }),
    Mounts: unary('Mounts', (r) => r.key, async (r, call) => {
      requireNonEmpty('key', r.key);
      return { mounts: mountsToProto(await sn.mounts(r.key, call)) };
    }),
    Commit: unary('Commit', (r) => r.key, async (r, call) => {
      requireNonEmpty('name', r.name);
      requireNonEmpty('key', r.key);
      checkLabels(r.labels, r.name);
      if (r.parent !== '') {
        // containerd 2.x sends a parent only to rebase, a capability snaphost does not advertise.
        const current = infoToProto(await sn.stat(r.key, call)).parent;
        if (current !== r.parent) {
          throw new NotImplementedError(`commit ${quoteInput(r.key)} onto parent ${quoteInput(r.parent)}: rebase is not supported (its parent is ${quoteInput(current ?? '')})`);
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
      const name = r.info.name;
      requireNonEmpty('info.name', name);
      checkLabels(r.info.labels, name);
      const paths = [...(r.updateMask?.paths ?? [])];
      for (const p of paths) {
        if (p !== 'labels' && !(p.startsWith('labels.') && p.length > 'labels.'.length)) {
          throw new InvalidArgumentError(`cannot update ${quoteInput(p)} field on snapshot ${quoteInput(name)}`);
        }
      }
      const update = { name, labels: labelsFromProto(r.info.labels) };
      // The bounds hold for the merged result: read, merge and check under a per-snapshot
      // lock, so two Updates cannot both pass on the same old label set.
      const lockKey = `${call.namespace ?? ''}\0${name}`;
      return updates.run(lockKey, async () => {
        const current = infoToProto(await sn.stat(name, call)); // validated like any answer
        checkLabels(applyLabelUpdate(labelsFromProto(current.labels), update, paths), name);
        return { info: infoToProto(await sn.update(update, paths, call)) };
      });
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

/** A key, name or parent must be a non-empty string within MAX_KEY_BYTES. */
function requireNonEmpty(what: string, value: string): void {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`${what} must not be empty`);
  checkKeyLength(what, value);
}

