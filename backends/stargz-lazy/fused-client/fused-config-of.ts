/** The FUSE process's configuration (`<root>/fused.json`) from the backend's options. */
import type { Logger } from '../../../core/sdk.js';
import { fusedConfigSchema, logLevelSchema, type FusedConfig } from '../protocol/fused-config.js';
import type { StargzLazyOptions } from '../options.js';

/** The FUSE process logs at the backend's level. */
export function fusedConfigOf(options: StargzLazyOptions, log: Logger): FusedConfig {
  const level = logLevelSchema.safeParse(log.level);
  return fusedConfigSchema.parse({
    // The pull secrets are read by snaphost and pushed (credentials-feed.ts); the process never reads them.
    registry: { ...options.registry, pullSecrets: [] },
    estargz: options.estargz,
    cache: { memoryBytes: options.cache.memoryBytes, diskBytes: options.cache.diskBytes },
    backgroundFetch: options.backgroundFetch,
    prefetch: { maxBytes: options.prefetch.maxBytes, timeoutMs: options.prefetch.timeoutMs },
    fs: { readTimeoutMs: options.readTimeoutMs, regionBytes: options.regionBytes, transport: options.fs.transport, passthrough: options.fs.passthrough },
    idleExitMs: options.fusedIdleExitMs,
    outsideCheckMs: options.fusedOutsideCheckMs,
    memoryLimitBytes: options.fusedMemoryLimitBytes,
    logLevel: level.success ? level.data : 'info',
  });
}
