/**
 * The configuration a running FUSE-serving process uses, changed live by `POST /v1/config`
 * (protocol/config-update.ts). The parts of the process were given the sections of ONE config
 * object (prefetch and fs settings are read at each mount, region size at each layer open), so
 * a change is written into that object in place; the registry client is replaced
 * (live-registry.ts), the cache caps and the background pace are set on their owners.
 * All or nothing: fixed fields that differ refuse the whole change, and a registry that cannot
 * be made (an unreadable CA of `registry.hosts`) leaves everything as it was.
 */
import { memoryBudget } from '../protocol/memory-budget.js';
import { FailedPreconditionError, type Logger } from '../../../core/sdk.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import type { BackgroundFetcher } from '../layer/background-fetcher.js';
import type { LiveRegistry } from '../registry/live-registry.js';
import { fixedFieldsChanged, sectionsChanged, type ConfigUpdateAnswer } from '../protocol/config-update.js';
import { configDigestOf, type FusedConfig } from '../protocol/fused-config.js';

export interface LiveConfigDeps {
  /** The object the process's parts were given: changed in place. */
  config: FusedConfig;
  registry: Pick<LiveRegistry, 'replace'>;
  cache: Pick<ChunkCache, 'setLimits'>;
  background?: Pick<BackgroundFetcher, 'configure'> | undefined;
  log: Logger;
}

export class LiveConfig {
  #digest: string;

  constructor(private readonly deps: LiveConfigDeps) {
    this.#digest = configDigestOf(deps.config);
  }

  get digest(): string {
    return this.#digest;
  }

  apply(next: FusedConfig): ConfigUpdateAnswer {
    const { config, log } = this.deps;
    const fixed = fixedFieldsChanged(config, next);
    if (fixed.length > 0) {
      throw new FailedPreconditionError(
        `cannot change ${fixed.join(', ')} in a running FUSE-serving process (it applies when the process restarts); nothing was changed`,
      );
    }
    const applied = sectionsChanged(config, next);
    // The registry first: the only step that can fail, before anything else changed.
    if (applied.includes('registry')) this.deps.registry.replace(next.registry, 'a new configuration');
    if (applied.includes('cache') || applied.includes('memoryLimitBytes')) {
      // The memory cache within the ceiling (the heap limit follows it at the next start).
      this.deps.cache.setLimits({ diskBytes: next.cache.diskBytes, memoryBytes: memoryBudget(next.memoryLimitBytes, next.cache.memoryBytes).cacheBytes });
    }
    if (applied.includes('backgroundFetch')) this.deps.background?.configure(next.backgroundFetch);
    if (applied.includes('logLevel')) log.level = next.logLevel;
    for (const section of applied) Object.assign(config, { [section]: inPlace(config[section as keyof FusedConfig], next[section as keyof FusedConfig]) });
    this.#digest = configDigestOf(config);
    if (applied.length > 0) log.info({ applied, configDigest: this.#digest }, 'new configuration applied; no layer was unmounted');
    return { configDigest: this.#digest, applied };
  }
}

/** Objects are updated in place (holders of the section see the new values); scalars replaced. */
function inPlace<T>(current: T, next: T): T {
  if (typeof current === 'object' && current !== null && typeof next === 'object' && next !== null && !Array.isArray(current)) {
    for (const k of Object.keys(current)) if (!(k in next)) delete (current as Record<string, unknown>)[k];
    Object.assign(current, next);
    return current;
  }
  return next;
}
