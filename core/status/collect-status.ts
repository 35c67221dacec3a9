/**
 * One backend's status, for `snaphost status` and the metrics endpoint: the backend's own
 * `status()` answer (checked: it is outside input), with what it leaves out filled in by the
 * host: `snapshots` by walking `list`, `diskBytes` by measuring the root (one file system:
 * mounts below the root, such as a tmpfs or FUSE layers, are not entered). Everything is
 * bounded by `timeoutMs`; what does not finish in time is left out and named in `problems`,
 * never waited for.
 */
import { z } from 'zod';
import { describe } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { diskUsage } from '../overlay/disk-usage.js';
import type { BackendMetric, Call, SnapshotFilter, Snapshotter, SnapshotterStatus } from '../contract/snapshotter.js';
import { layerStatusSchema, type LayerReport } from './status-report.js';

export const DEFAULT_STATUS_TIMEOUT_MS = 5000;

export interface CollectStatusOptions {
  instance: Snapshotter;
  /** The backend's root (measured when the backend does not report `diskBytes`). */
  root: string;
  log: Logger;
  /** Aborts collection (e.g. the client went away, the backend stops). */
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Runs backend calls (the daemon passes its CallTracker's `run`, so a stop waits for them). */
  run?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Measure the root when the backend does not report `diskBytes` (default true; a walk of the root). */
  measureDisk?: boolean;
}

export interface CollectedStatus {
  snapshots?: number;
  snapshotsSource?: 'backend' | 'list';
  diskBytes?: number;
  diskSource?: 'backend' | 'measured';
  layers?: LayerReport[];
  /** The backend's own series, for the metrics endpoint. */
  metrics?: BackendMetric[];
  /** Why the backend's own `status()` gave nothing usable (it threw, timed out or answered a non-object). */
  statusFailed?: string;
  problems: string[];
}

const EVERYTHING: SnapshotFilter = { source: [], match: () => true };

const metricSchema = z.union([
  z.object({
    name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    help: z.string(),
    type: z.enum(['counter', 'gauge']),
    value: z.number(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    help: z.string(),
    type: z.literal('histogram'),
    buckets: z.array(z.object({ le: z.number(), count: z.number().nonnegative() })),
    sum: z.number(),
    count: z.number().nonnegative(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
]);

export async function collectStatus(o: CollectStatusOptions): Promise<CollectedStatus> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  const run = o.run ?? (<T>(fn: () => Promise<T>) => fn());
  const call: Call = { signal, log: o.log.child({ method: 'Status' }) };
  const out: CollectedStatus = { problems: [] };
  const late = (what: string) => (signal.aborted && deadline.aborted ? `${what} did not finish within ${timeoutMs} ms` : undefined);

  const own = await ownStatus(o.instance, call, run, signal, out.problems);
  if (own === undefined) out.statusFailed = out.problems[out.problems.length - 1];
  if (own?.snapshots !== undefined) Object.assign(out, { snapshots: own.snapshots, snapshotsSource: 'backend' });
  if (own?.diskBytes !== undefined) Object.assign(out, { diskBytes: own.diskBytes, diskSource: 'backend' });
  if (own?.layers !== undefined) out.layers = own.layers;
  if (own?.metrics !== undefined) out.metrics = own.metrics;

  if (out.snapshots === undefined) {
    try {
      out.snapshots = await run(() => untilAborted(countSnapshots(o.instance, call), signal));
      out.snapshotsSource = 'list';
    } catch (err) {
      out.problems.push(late('counting snapshots with list') ?? `counting snapshots with list failed: ${describe(err)}`);
    }
  }
  if (out.diskBytes === undefined && o.measureDisk !== false) {
    try {
      out.diskBytes = (await diskUsage(o.root, signal)).size;
      out.diskSource = 'measured';
    } catch (err) {
      out.problems.push(late(`measuring ${o.root}`) ?? `measuring ${o.root} failed: ${describe(err)}`);
    }
  }
  return out;
}

/** The backend's `status()` answer, bounded and checked field by field; `undefined` when it failed (named in `problems`). */
async function ownStatus(
  instance: Snapshotter,
  call: Call,
  run: NonNullable<CollectStatusOptions['run']>,
  signal: AbortSignal,
  problems: string[],
): Promise<SnapshotterStatus | undefined> {
  if (typeof instance.status !== 'function') return {};
  let raw: unknown;
  try {
    raw = await run(() => untilAborted(Promise.resolve().then(() => instance.status!(call)), signal));
  } catch (err) {
    problems.push(`status() failed: ${describe(err)}`);
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) {
    problems.push(`status() returned ${raw === null ? 'null' : typeof raw}, not an object`);
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const out: SnapshotterStatus = {};
  const field = <T>(name: string, schema: z.ZodType<T>, set: (v: T) => void) => {
    if (r[name] === undefined) return;
    const parsed = schema.safeParse(r[name]);
    if (parsed.success) set(parsed.data);
    else problems.push(`status() returned an invalid ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || name}: ${i.message}`).join('; ')}`);
  };
  field('snapshots', z.number().int().nonnegative(), (v) => (out.snapshots = v));
  field('diskBytes', z.number().nonnegative().finite(), (v) => (out.diskBytes = v));
  field('layers', z.array(layerStatusSchema), (v) => (out.layers = v));
  field('metrics', z.array(metricSchema), (v) => (out.metrics = v as BackendMetric[]));
  return out;
}

async function countSnapshots(instance: Snapshotter, call: Call): Promise<number> {
  let n = 0;
  const items = instance.list(EVERYTHING, call);
  for await (const _ of items as AsyncIterable<unknown>) {
    call.signal.throwIfAborted();
    n++;
  }
  return n;
}

/** `p`, or the signal's reason once it aborts (the backend's promise is then left to settle). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
