/**
 * The List stream of the Snapshots service (`snapshots-service.ts` runs it as any call): the
 * backend's snapshots, filtered (the backend gets the cheap prefilter, `~=` is matched here
 * between turns of the event loop), converted and sent in batches bounded in count and bytes,
 * waiting for 'drain' when the client reads slower than the backend lists.
 */
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import { type ParsedFilter, parseFilters } from '../contract/filters.js';
import type { Call, Info, Snapshotter } from '../contract/snapshotter.js';
import { infoToProto } from './convert.js';
import type { Info as ProtoInfo } from './generated/containerd/services/snapshots/v1/Info.js';
import type { ListSnapshotsRequest__Output } from './generated/containerd/services/snapshots/v1/ListSnapshotsRequest.js';
import type { ListSnapshotsResponse } from './generated/containerd/services/snapshots/v1/ListSnapshotsResponse.js';
import type { RequestLimits } from './request-limits.js';

/** Infos per List message (containerd's own snapshots service sends 100). */
export const LIST_BATCH_SIZE = 100;
/**
 * A List message holds infos of at most about this many bytes (clients cap messages at 4-16
 * MiB): an info that would take the batch over it goes into the next message. One info is at
 * most `maxLabelSetBytes` (≤ 3 MiB) + two keys (64 KiB), so every message stays under 4 MiB.
 */
export const LIST_BATCH_BYTES = 1 << 20;
/** A List gives the event loop back (setImmediate) after matching for this long, so other calls go on. */
export const LIST_SLICE_MS = 10;
export async function streamList(
  sn: Snapshotter,
  server: grpc.ServerWritableStream<ListSnapshotsRequest__Output, ListSnapshotsResponse>,
  call: Call,
  limits: RequestLimits,
): Promise<void> {
  const filter: ParsedFilter = parseFilters(server.request.filters, limits);
  // The backend gets the cheap superset (no `~=`); regular expressions are matched here,
  // between turns of the event loop.
  const items: unknown = sn.list(filter.prefilter, call);
  if (!isIterable(items)) throw new TypeError(`list() must return an Iterable or AsyncIterable of Info, got ${describeValue(items)}`);
  let sliceStart = performance.now();
  const pause = (): Promise<void> | undefined => {
    if (performance.now() - sliceStart < LIST_SLICE_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      sliceStart = performance.now();
    });
  };
  let batch: ProtoInfo[] = [];
  let bytes = 0;
  for await (const info of items) {
    if (call.signal.aborted) throw call.signal.reason;
    const proto = infoToProto(info); // validates before the filter reads it
    const wait = pause();
    if (wait) await wait;
    if (!(filter.hasRegex ? await filter.matchSliced(info, pause) : filter.match(info))) continue;
    const size = approximateSize(info);
    if (batch.length > 0 && bytes + size > LIST_BATCH_BYTES) {
      await send(server, { info: batch }, call.signal);
      batch = [];
      bytes = 0;
    }
    batch.push(proto);
    bytes += size;
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

/** Encoded size of an info, from above: UTF-8 bytes plus protobuf framing (≤ 16 bytes per label). */
function approximateSize(info: Info): number {
  let n = 64 + Buffer.byteLength(info.name) + Buffer.byteLength(info.parent);
  for (const [k, v] of Object.entries(info.labels)) n += 16 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

function isIterable(v: unknown): v is AsyncIterable<never> | Iterable<never> {
  return typeof v === 'object' && v !== null && (Symbol.asyncIterator in v || Symbol.iterator in v);
}

function describeValue(v: unknown): string {
  if (v === null || typeof v !== 'object') return v === null ? 'null' : typeof v;
  return v.constructor?.name ?? 'object';
}
