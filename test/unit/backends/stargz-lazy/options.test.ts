import pino from 'pino';
import { describe, expect, it } from 'vitest';
import backend from '../../../../backends/stargz-lazy/index.js';
import { fusedConfigOf } from '../../../../backends/stargz-lazy/fused-client/fused-config-of.js';
import { fusedConfigSchema } from '../../../../backends/stargz-lazy/protocol/fused-config.js';

describe('stargz-lazy options', () => {
  it('{} is a working configuration; defaults as documented', () => {
    const o = backend.options.parse({});
    expect(o).toMatchObject({
      asyncRemove: true,
      cache: { memoryBytes: 64 * 1024 * 1024 },
      prefetch: { enabled: true, maxBytes: 256 * 1024 * 1024, timeoutMs: 30_000 },
      readTimeoutMs: 60_000,
      fusedStartTimeoutMs: 10_000,
      mountTimeoutMs: 30_000,
    });
    expect(o.registry.retry.retries).toBe(4);
    expect(o.estargz.maxEntries).toBe(1_000_000);
  });

  it('refuses unknown keys and wrong values, naming the path', () => {
    const cases: [unknown, RegExp][] = [
      [{ asyncremove: true }, /asyncremove/],
      [{ cache: { memory: 1 } }, /memory/],
      [{ prefetch: { maxBytes: -1 } }, /"maxBytes"/],
      [{ registry: { hosts: { 'http://x': {} } } }, /no scheme/],
      [{ estargz: { maxEntries: 0 } }, /"maxEntries"/],
      [{ mountTimeoutMs: 0 }, /"mountTimeoutMs"/],
    ];
    for (const [input, message] of cases) {
      const r = backend.options.safeParse(input);
      expect(r.success, JSON.stringify(input)).toBe(false);
      expect(JSON.stringify(r.error?.issues), JSON.stringify(input)).toMatch(message);
    }
  });

  it('the FUSE process gets the registry, limits, cache, prefetch and read timeout, and the log level', () => {
    const o = backend.options.parse({
      registry: { hosts: { 'registry.lan:5000': { plainHttp: true } } },
      cache: { memoryBytes: 1024 },
      prefetch: { maxBytes: 10, timeoutMs: 20 },
      readTimeoutMs: 5_000,
    });
    const config = fusedConfigOf(o, pino({ level: 'debug' }));
    expect(fusedConfigSchema.parse(config)).toEqual(config);
    expect(config).toMatchObject({
      registry: { hosts: { 'registry.lan:5000': { plainHttp: true } } },
      cache: { memoryBytes: 1024 },
      prefetch: { maxBytes: 10, timeoutMs: 20 },
      fs: { readTimeoutMs: 5_000 },
      logLevel: 'debug',
    });
    expect(config.estargz).toEqual(o.estargz);
  });
});
