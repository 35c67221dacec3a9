/**
 * `<root>/fused.json`: the configuration of the FUSE-serving process, written by the backend
 * (through `FusedClient.connect`) before it starts the process, validated here when the
 * process starts. Every field has a default, so `{}` is a working file.
 */
import { createHash } from 'node:crypto';
import { z } from '../../../core/sdk.js';
import { estargzLimitsSchema } from '../estargz/limits.js';
import { registryOptions } from '../registry/options.js';

const MiB = 1024 * 1024;
const ms = (dflt: number) => z.number().int().positive().max(3_600_000).default(dflt);

export const fusedConfigSchema = z
  .object({
    /** Registry client (one per process): timeouts, retries, plain-HTTP hosts. */
    registry: registryOptions.prefault({}),
    /** Caps on TOC size, entry count and chunk sizes. */
    estargz: estargzLimitsSchema.prefault({}),
    cache: z
      .object({
        /** Memory LRU in front of the on-disk chunk cache (`<root>/cache`), bytes. */
        memoryBytes: z.number().int().min(0).max(64 * 1024 * MiB).default(64 * MiB),
        /** Cap of `<root>/cache` in bytes, LRU eviction beyond it; 0: no cap. */
        diskBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(10 * 1024 * MiB),
      })
      .strict()
      .prefault({}),
    prefetch: z
      .object({
        /** Upper bound of a mount's prefetch, compressed bytes (a mount asks for at most this). */
        maxBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(256 * MiB),
        /** A layer's prefetch stops after this long. */
        timeoutMs: ms(30_000),
      })
      .strict()
      .prefault({}),
    backgroundFetch: z
      .object({
        enabled: z.boolean().default(true),
        concurrency: z.number().int().min(1).max(64).default(2),
        quietMs: z.number().int().min(0).max(600_000).default(1_000),
        startDelayMs: z.number().int().min(0).max(3_600_000).default(30_000),
      })
      .strict()
      .prefault({}),
    fs: z
      .object({
        /** A file read that has not been served after this long answers EIO (never hang a container). */
        readTimeoutMs: ms(60_000),
        /**
         * A read that fetches a small gzip member also fetches (and verifies, caches) the other
         * members of its aligned region of this many bytes, in the same request; 0: off.
         */
        regionBytes: z.number().int().min(0).max(4 * MiB).default(64 * 1024),
      })
      .strict()
      .prefault({}),
    /**
     * Exit after this long serving no layer with no snaphost attached and no request running
     * (a process left behind by a snaphost that stopped); 0: never.
     */
    idleExitMs: z.number().int().min(0).max(86_400_000).default(30_000),
    /**
     * How often the process looks at what may change from outside (outside-watch.ts): a layer
     * mount removed behind its back (`umount -l` by an admin, a crashed cleanup) is released,
     * and a root directory or control socket that was removed ends the process once it serves
     * no layer (no client can reach it any more); 0: never look.
     */
    outsideCheckMs: z.number().int().min(0).max(600_000).default(5_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type FusedConfig = z.output<typeof fusedConfigSchema>;
export type FusedConfigInput = z.input<typeof fusedConfigSchema>;

/** A digest of a validated configuration, to tell whether a running process uses this one. */
export function configDigestOf(config: FusedConfig): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(config)).digest('hex')}`;
}
