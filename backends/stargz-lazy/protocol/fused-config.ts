/**
 * `<root>/fused.json`: the configuration of the FUSE-serving process, written by the backend
 * (through `FusedClient.connect`) before it starts the process, validated here when the
 * process starts. Every field has a default, so `{}` is a working file.
 */
import { createHash } from 'node:crypto';
import { z, type LogLevel } from '../../../core/sdk.js';
import { fsOptions, prefetchOptions, stargzLazyOptions } from '../options.js';

/** The backend's options (options.ts) hold every default and bound; the process takes them from there. */
const option = stargzLazyOptions.shape;

export const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] satisfies LogLevel[]);

/**
 * Each field is the backend option named beside it (fused-config-of.ts maps one to the other);
 * `prefetch.enabled` stays with the backend (it decides whether a mount asks for a prefetch).
 */
export const fusedConfigSchema = z
  .object({
    registry: option.registry,
    estargz: option.estargz,
    cache: option.cache,
    prefetch: prefetchOptions.pick({ maxBytes: true, timeoutMs: true }).prefault({}),
    backgroundFetch: option.backgroundFetch,
    fs: z.object({ readTimeoutMs: option.readTimeoutMs, regionBytes: option.regionBytes, transport: fsOptions.shape.transport, passthrough: fsOptions.shape.passthrough }).strict().prefault({}),
    /** `fusedIdleExitMs` (idle-exit.ts). */
    idleExitMs: option.fusedIdleExitMs,
    /** `fusedOutsideCheckMs` (outside-watch.ts). */
    outsideCheckMs: option.fusedOutsideCheckMs,
    /** `fusedMemoryLimitBytes` (memory-budget.ts). */
    memoryLimitBytes: option.fusedMemoryLimitBytes,
    /** The backend's log level. */
    logLevel: logLevelSchema.default('info'),
  })
  .strict();

export type FusedConfig = z.output<typeof fusedConfigSchema>;
export type FusedConfigInput = z.input<typeof fusedConfigSchema>;

/** A digest of a validated configuration, to tell whether a running process uses this one. */
export function configDigestOf(config: FusedConfig): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(config)).digest('hex')}`;
}
