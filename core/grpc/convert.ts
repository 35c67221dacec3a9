/**
 * Every conversion between protobuf messages and the domain types of
 * `core/contract/snapshotter.ts`, in pairs. `*ToProto` functions validate what a backend
 * returned and throw a TypeError describing the first problem (the adapter answers INTERNAL
 * naming the backend and method); `*FromProto` functions read what a client sent.
 */
import { InvalidArgumentError } from '../contract/errors.js';
import type { Info, InfoUpdate, Kind, Labels, Mount, Timestamp, Usage } from '../contract/snapshotter.js';
import { joinNs, splitNs } from '../contract/time.js';
import type { Info as ProtoInfo, Info__Output as ProtoInfoOut } from './generated/containerd/services/snapshots/v1/Info.js';
import type { Kind__Output as ProtoKind } from './generated/containerd/services/snapshots/v1/Kind.js';
import type { UsageResponse, UsageResponse__Output } from './generated/containerd/services/snapshots/v1/UsageResponse.js';
import type { Mount as ProtoMount, Mount__Output as ProtoMountOut } from './generated/containerd/types/Mount.js';
import type { Timestamp as ProtoTimestamp, Timestamp__Output as ProtoTimestampOut } from './generated/google/protobuf/Timestamp.js';
import { quoteInput } from '../text/truncate.js';
import { createLabels } from '../contract/label-object.js';

const KIND_TO_PROTO: Record<Kind, ProtoKind> = { view: 'VIEW', active: 'ACTIVE', committed: 'COMMITTED' };

export function kindToProto(kind: Kind): ProtoKind {
  const k = Object.prototype.hasOwnProperty.call(KIND_TO_PROTO, kind) ? KIND_TO_PROTO[kind] : undefined;
  if (k === undefined) throw new TypeError(`expected "view", "active" or "committed", got ${show(kind)}`);
  return k;
}

export function kindFromProto(kind: ProtoKind | string): Kind {
  switch (kind) {
    case 'VIEW':
      return 'view';
    case 'ACTIVE':
      return 'active';
    case 'COMMITTED':
      return 'committed';
    default:
      throw new InvalidArgumentError(`unknown snapshot kind ${show(kind)}`);
  }
}

/** Nanoseconds since the epoch as a protobuf Timestamp, without losing a nanosecond. */
export function timestampToProto(t: Timestamp): ProtoTimestamp {
  if (typeof t !== 'bigint') throw new TypeError(`expected a bigint of nanoseconds (use nowNs()), got ${show(t)}`);
  const { seconds, nanos } = splitNs(t);
  return { seconds: seconds.toString(), nanos };
}

/** A protobuf Timestamp as nanoseconds since the epoch; a missing one is the epoch (Go's zero time is not representable here). */
export function timestampFromProto(ts: ProtoTimestampOut | null | undefined): Timestamp {
  if (!ts) return 0n;
  return joinNs(BigInt(ts.seconds), ts.nanos);
}

export function labelsToProto(labels: Labels): Record<string, string> {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new TypeError(`labels: expected an object of strings, got ${show(labels)}`);
  }
  const out: Record<string, string> = createLabels();
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') throw new TypeError(`labels[${quoteInput(k)}]: expected a string, got ${show(v)}`);
    out[k] = v;
  }
  return out;
}

export function labelsFromProto(labels: Record<string, string> | null | undefined): Labels {
  const out = createLabels(); // keeps `__proto__` and the like as ordinary keys
  for (const [k, v] of Object.entries(labels ?? {})) out[k] = v;
  return out;
}

export function infoToProto(info: Info): ProtoInfo {
  if (typeof info !== 'object' || info === null) throw new TypeError(`info: expected an object, got ${show(info)}`);
  const field = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new TypeError(`info ${show(info.name)}: ${what}: ${(err as Error).message}`);
    }
  };
  if (typeof info.name !== 'string' || info.name === '') throw new TypeError(`info.name: expected a non-empty string, got ${show(info.name)}`);
  if (typeof info.parent !== 'string') throw new TypeError(`info ${show(info.name)}: parent: expected a string ('' for none), got ${show(info.parent)}`);
  return {
    name: info.name,
    parent: info.parent,
    kind: field('kind', () => kindToProto(info.kind)),
    createdAt: field('created', () => timestampToProto(info.created)),
    updatedAt: field('updated', () => timestampToProto(info.updated)),
    labels: field('labels', () => labelsToProto(info.labels)),
  };
}

export function infoFromProto(info: ProtoInfoOut): Info {
  return {
    name: info.name,
    parent: info.parent,
    kind: kindFromProto(info.kind),
    labels: labelsFromProto(info.labels),
    created: timestampFromProto(info.createdAt),
    updated: timestampFromProto(info.updatedAt),
  };
}

/** What `update(info, fieldpaths)` sends: the name and the labels; the field mask says which count. */
export function infoUpdateToProto(update: InfoUpdate): ProtoInfo {
  if (typeof update !== 'object' || update === null) throw new TypeError(`info: expected { name, labels }, got ${show(update)}`);
  if (typeof update.name !== 'string') throw new TypeError(`info.name: expected a string, got ${show(update.name)}`);
  return { name: update.name, labels: labelsToProto(update.labels ?? {}) };
}

export function mountToProto(m: Mount): ProtoMount {
  if (typeof m !== 'object' || m === null) throw new TypeError(`expected a mount object, got ${show(m)}`);
  if (typeof m.type !== 'string' || m.type === '') throw new TypeError(`type: expected a non-empty string, got ${show(m.type)}`);
  if (typeof m.source !== 'string') throw new TypeError(`source: expected a string, got ${show(m.source)}`);
  if (m.target !== undefined && typeof m.target !== 'string') throw new TypeError(`target: expected a string, got ${show(m.target)}`);
  if (!Array.isArray(m.options) || m.options.some((o) => typeof o !== 'string')) {
    throw new TypeError(`options: expected an array of strings, got ${show(m.options)}`);
  }
  return { type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] };
}

export function mountFromProto(m: ProtoMountOut): Mount {
  const out: Mount = { type: m.type, source: m.source, options: [...m.options] };
  if (m.target) out.target = m.target;
  return out;
}

export function mountsToProto(mounts: Mount[]): ProtoMount[] {
  if (!Array.isArray(mounts)) throw new TypeError(`mounts: expected an array, got ${show(mounts)}`);
  return mounts.map((m, i) => {
    try {
      return mountToProto(m);
    } catch (err) {
      throw new TypeError(`mounts[${i}]: ${(err as Error).message}`);
    }
  });
}

export function usageToProto(u: Usage): UsageResponse {
  if (typeof u !== 'object' || u === null) throw new TypeError(`usage: expected { size, inodes }, got ${show(u)}`);
  for (const k of ['size', 'inodes'] as const) {
    const v = u[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new TypeError(`usage.${k}: expected a non-negative integer, got ${show(v)}`);
    }
  }
  return { size: String(u.size), inodes: String(u.inodes) };
}

export function usageFromProto(u: UsageResponse__Output): Usage {
  return { size: Number(u.size), inodes: Number(u.inodes) };
}

/** A short, safe description of a value for error messages. */
function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  if (v === null || v === undefined) return String(v);
  if (typeof v !== 'object') return typeof v;
  if (Array.isArray(v)) return `array(${v.length})`;
  return v.constructor?.name && v.constructor.name !== 'Object' ? v.constructor.name : 'object';
}
