/**
 * LiveConfig (`POST /v1/config`): registry, cache caps, background pace, prefetch and fs
 * settings are applied to the running parts, in place (holders of a section see the new
 * values); fixed fields refuse the whole change, naming them; the digest follows.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LiveConfig } from '../../../../../backends/stargz-lazy/fused/live-config.js';
import { configDigestOf, fusedConfigSchema, type FusedConfig } from '../../../../../backends/stargz-lazy/protocol/fused-config.js';
import type { RegistryOptions } from '../../../../../backends/stargz-lazy/registry/options.js';

function setup(background = true) {
  const config = fusedConfigSchema.parse({ registry: { hostsDirs: [] } });
  const calls: string[] = [];
  const live = new LiveConfig({
    config,
    registry: { replace: (o: RegistryOptions) => calls.push(`registry ${o.hostsDirs.join(',')}`) },
    cache: { setLimits: (l) => calls.push(`cache ${l.memoryBytes}/${l.diskBytes}`) },
    background: background ? { configure: (p) => calls.push(`background ${p.concurrency}`) } : undefined,
    log: pino({ level: 'silent' }),
  });
  return { config, calls, live };
}
const next = (patch: object): FusedConfig => fusedConfigSchema.parse({ registry: { hostsDirs: [] }, ...patch });

describe('LiveConfig', () => {
  it('applies registry, cache, background, prefetch and fs live, in place', () => {
    const { config, calls, live } = setup();
    const prefetch = config.prefetch;
    const fs = config.fs;
    const wanted = next({
      registry: { hostsDirs: ['/srv/certs.d'] },
      cache: { memoryBytes: 1024, diskBytes: 0 },
      backgroundFetch: { concurrency: 5 },
      prefetch: { maxBytes: 7 },
      fs: { readTimeoutMs: 1234 },
      logLevel: 'debug',
    });
    const answer = live.apply(wanted);
    expect(answer.applied.sort()).toEqual(['backgroundFetch', 'cache', 'fs', 'logLevel', 'prefetch', 'registry']);
    expect(calls).toEqual(['registry /srv/certs.d', 'cache 1024/0', 'background 5']);
    expect(prefetch.maxBytes).toBe(7);
    expect(fs.readTimeoutMs).toBe(1234);
    expect(config.registry.hostsDirs).toEqual(['/srv/certs.d']);
    expect(answer.configDigest).toBe(configDigestOf(wanted));
    expect(live.digest).toBe(configDigestOf(wanted));
  });

  it('a new memory ceiling cuts the memory cache to what it leaves, live; a larger one gives it back', () => {
    const MiB = 1024 * 1024;
    const { config, calls, live } = setup();
    const cache = { memoryBytes: 64 * MiB, diskBytes: 5 };
    expect(live.apply(next({ cache, memoryLimitBytes: 230 * MiB })).applied.sort()).toEqual(['cache', 'memoryLimitBytes']);
    // 230 MiB - 96 base - 2 x 24 workers - 64 heap floor = 22 MiB for the cache.
    expect(calls).toEqual([`cache ${22 * MiB}/5`]);
    expect(config.memoryLimitBytes).toBe(230 * MiB);
    expect(live.apply(next({ cache, memoryLimitBytes: 512 * MiB })).applied).toEqual(['memoryLimitBytes']);
    expect(calls).toEqual([`cache ${22 * MiB}/5`, `cache ${64 * MiB}/5`]);
  });

  it('the same configuration again changes nothing', () => {
    const { calls, live } = setup();
    const before = live.digest;
    expect(live.apply(next({}))).toEqual({ configDigest: before, applied: [] });
    expect(calls).toEqual([]);
  });

  it('refuses fields a running process cannot take, naming them, and changes nothing', () => {
    const { config, calls, live } = setup();
    const before = live.digest;
    const wanted = next({ estargz: { maxTocBytes: 1024 * 1024 }, idleExitMs: 5, backgroundFetch: { enabled: false }, cache: { memoryBytes: 1 } });
    expect(() => live.apply(wanted)).toThrow(/cannot change estargz, backgroundFetch\.enabled, idleExitMs in a running FUSE-serving process/);
    expect(calls).toEqual([]);
    expect(config.cache.memoryBytes).not.toBe(1);
    expect(live.digest).toBe(before);
  });

  it('a registry that cannot be made leaves everything as it was', () => {
    const { config, live } = setup();
    const before = live.digest;
    const failing = new LiveConfig({
      config,
      registry: {
        replace: () => {
          throw new Error('registry.hosts["x"].ca[0]: cannot read /x: ENOENT');
        },
      },
      cache: { setLimits: () => expect.unreachable() },
      log: pino({ level: 'silent' }),
    });
    expect(() => failing.apply(next({ registry: { hostsDirs: ['/x'] }, cache: { memoryBytes: 5 } }))).toThrow(/cannot read/);
    expect(config.cache.memoryBytes).not.toBe(5);
    expect(live.digest).toBe(before);
  });
});
