/**
 * `POST /v1/config` of the control protocol (control-protocol.ts): a running FUSE-serving
 * process takes a new configuration without unmounting anything.
 *
 * ```
 * POST /v1/config  { config: FusedConfig } -> 200 ConfigUpdateAnswer
 * ```
 *
 * Applied live: `registry` (a new registry client, the hosts directories read again: new
 * reads use it, reads in flight finish on the old one), `cache.memoryBytes`/`diskBytes` (a
 * lower cap evicts now), `backgroundFetch` pace (`concurrency`, `quietMs`, `startDelayMs`),
 * `prefetch` and `fs` (mounts made from now on), `logLevel`. Fields that cannot change in a
 * running process (LIVE_FIXED_FIELDS) are refused as a whole with FAILED_PRECONDITION naming
 * them; nothing is applied then, and the process keeps its configuration until it restarts.
 * Status's `configDigest` is the digest of the configuration applied last.
 */
import { z } from '../../../core/sdk.js';
import { fusedConfigSchema, type FusedConfig } from './fused-config.js';

export const configUpdateRequestSchema = z.object({ config: fusedConfigSchema }).strict();

export type ConfigUpdateRequest = z.output<typeof configUpdateRequestSchema>;

export interface ConfigUpdateAnswer {
  /** Digest of the configuration the process runs with now. */
  configDigest: string;
  /** Top-level sections that changed and were applied (`registry`, `cache`, …); [] when none did. */
  applied: string[];
}

/** What a running process cannot take: the layers served, the workers and timers depend on them. */
export const LIVE_FIXED_FIELDS = [
  'estargz',
  'backgroundFetch.enabled',
  'idleExitMs',
  'outsideCheckMs',
] as const;

/** The fixed fields whose values differ between two configurations (dotted paths). */
export function fixedFieldsChanged(current: FusedConfig, next: FusedConfig): string[] {
  return LIVE_FIXED_FIELDS.filter((path) => JSON.stringify(valueAt(current, path)) !== JSON.stringify(valueAt(next, path)));
}

/** Top-level sections whose values differ. */
export function sectionsChanged(current: FusedConfig, next: FusedConfig): string[] {
  return (Object.keys(next) as (keyof FusedConfig)[]).filter((k) => JSON.stringify(current[k]) !== JSON.stringify(next[k]));
}

function valueAt(config: FusedConfig, path: string): unknown {
  let v: unknown = config;
  for (const part of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}
