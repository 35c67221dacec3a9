import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from '../../../../core/sdk.js';
import backend from '../../../../backends/stargz-lazy/index.js';
import { fusedConfigOf } from '../../../../backends/stargz-lazy/fused-client/fused-config-of.js';
import { fusedConfigSchema } from '../../../../backends/stargz-lazy/protocol/fused-config.js';
import { MIN_FUSED_MEMORY_LIMIT_BYTES } from '../../../../backends/stargz-lazy/protocol/memory-budget.js';

describe('stargz-lazy options', () => {
  it('{} is a working configuration; defaults as documented', () => {
    const o = backend.options.parse({});
    expect(o).toMatchObject({
      asyncRemove: true,
      cache: { memoryBytes: 8 * 1024 * 1024 },
      fusedMemoryLimitBytes: 256 * 1024 * 1024,
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

  it('fs.transport: fuse-native by default, kernel on request, carried to the FUSE process; nothing else accepted', () => {
    expect(backend.options.parse({}).fs.transport).toBe('fuse-native');
    expect(fusedConfigSchema.parse({}).fs.transport).toBe('fuse-native');
    const o = backend.options.parse({ fs: { transport: 'kernel' } });
    expect(fusedConfigOf(o, pino({ level: 'info' })).fs.transport).toBe('kernel');
    for (const bad of [{ transport: 'fuse3' }, { transport: '' }, { other: 1 }]) expect(backend.options.safeParse({ fs: bad }).success, JSON.stringify(bad)).toBe(false);
  });
});

/** A field of the FUSE process's configuration, and the backend option it is taken from. */
const FROM_OPTION: [fused: string, option: string][] = [
  ['registry', 'registry'],
  ['estargz', 'estargz'],
  ['cache.memoryBytes', 'cache.memoryBytes'],
  ['cache.diskBytes', 'cache.diskBytes'],
  ['prefetch.maxBytes', 'prefetch.maxBytes'],
  ['prefetch.timeoutMs', 'prefetch.timeoutMs'],
  ['backgroundFetch.enabled', 'backgroundFetch.enabled'],
  ['backgroundFetch.concurrency', 'backgroundFetch.concurrency'],
  ['backgroundFetch.quietMs', 'backgroundFetch.quietMs'],
  ['backgroundFetch.startDelayMs', 'backgroundFetch.startDelayMs'],
  ['fs.readTimeoutMs', 'readTimeoutMs'],
  ['fs.regionBytes', 'regionBytes'],
  ['fs.transport', 'fs.transport'],
  ['fs.passthrough', 'fs.passthrough'],
  ['idleExitMs', 'fusedIdleExitMs'],
  ['outsideCheckMs', 'fusedOutsideCheckMs'],
  ['memoryLimitBytes', 'fusedMemoryLimitBytes'],
];

interface JsonSchema {
  type?: string;
  default?: unknown;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
}

const jsonSchemaOf = (schema: z.ZodType): JsonSchema => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
const at = (s: JsonSchema, path: string): JsonSchema | undefined => path.split('.').reduce<JsonSchema | undefined>((n, k) => n?.properties?.[k], s);
/** `{ a: { b: value } }` for path `a.b`. */
const input = (path: string, value: unknown): unknown => path.split('.').reduceRight<unknown>((v, k) => ({ [k]: v }), value);

/** The fields of the process's configuration, objects taken whole from an option counted as one. */
function fields(s: JsonSchema, prefix = ''): string[] {
  return Object.entries(s.properties ?? {}).flatMap(([k, v]) => {
    const path = prefix + k;
    const whole = FROM_OPTION.some(([f]) => f === path);
    return v.type === 'object' && !whole ? fields(v, `${path}.`) : [path];
  });
}

describe('fusedMemoryLimitBytes', () => {
  const MiB = 1024 * 1024;
  it('refuses a ceiling below the smallest budget, a fraction and a string, naming the option', () => {
    for (const bad of [MIN_FUSED_MEMORY_LIMIT_BYTES - 1, 300 * MiB + 0.5, '256m']) {
      const r = backend.options.safeParse({ fusedMemoryLimitBytes: bad });
      expect(r.success, String(bad)).toBe(false);
      expect(JSON.stringify(r.error?.issues), String(bad)).toMatch(/fusedMemoryLimitBytes/);
    }
    expect(backend.options.parse({ fusedMemoryLimitBytes: MIN_FUSED_MEMORY_LIMIT_BYTES }).fusedMemoryLimitBytes).toBe(MIN_FUSED_MEMORY_LIMIT_BYTES);
  });

  it('snaphost check warns when the memory cache does not fit under it, and only then', async () => {
    const check = backend.check!;
    const ctx = { log: pino({ level: 'silent' }) } as Parameters<typeof check>[1];
    expect(await check(backend.options.parse({}), ctx)).toEqual([]);
    const problems = await check(backend.options.parse({ fusedMemoryLimitBytes: 256 * MiB, cache: { memoryBytes: 512 * MiB } }), ctx);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/fusedMemoryLimitBytes \(256 MiB\) is below what cache\.memoryBytes \(512 MiB\) needs/);
  });
});

describe("the FUSE process's configuration is taken from the backend's options", () => {
  const fused = jsonSchemaOf(fusedConfigSchema);
  const options = jsonSchemaOf(backend.options);

  it('{} gives the same configuration both ways', () => {
    expect(fusedConfigOf(backend.options.parse({}), pino({ level: 'info' }))).toEqual(fusedConfigSchema.parse({}));
  });

  it('every field but the log level comes from an option, with its default and bounds', () => {
    expect(fields(fused).filter((f) => f !== 'logLevel').sort()).toEqual(FROM_OPTION.map(([f]) => f).sort());
    for (const [f, o] of FROM_OPTION) {
      expect(at(fused, f), f).toBeDefined();
      expect(at(fused, f), f).toEqual(at(options, o));
    }
  });

  it('a value beyond a bound is refused both ways, the bound itself taken both ways', () => {
    let bounds = 0;
    for (const [f, o] of FROM_OPTION) {
      const s = at(fused, f)!;
      if (s.type !== 'integer') continue;
      const min = s.minimum ?? (s.exclusiveMinimum === undefined ? undefined : s.exclusiveMinimum + 1);
      for (const [ok, bad] of [
        [s.maximum, s.maximum === undefined ? undefined : s.maximum + 1],
        [min, min === undefined ? undefined : min - 1],
      ]) {
        if (ok === undefined || bad === undefined) continue;
        bounds++;
        expect(fusedConfigSchema.safeParse(input(f, ok)).success, `${f}: ${ok}`).toBe(true);
        expect(backend.options.safeParse(input(o, ok)).success, `${o}: ${ok}`).toBe(true);
        expect(fusedConfigSchema.safeParse(input(f, bad)).success, `${f}: ${bad}`).toBe(false);
        expect(backend.options.safeParse(input(o, bad)).success, `${o}: ${bad}`).toBe(false);
      }
    }
    expect(bounds).toBe(2 * 12);
  });

  it('an unknown field is refused by the process as by the backend', () => {
    for (const [f, o] of FROM_OPTION.filter(([f]) => f.includes('.'))) {
      const parent = (p: string) => p.split('.').slice(0, -1).join('.');
      if (parent(o) === '') continue;
      expect(fusedConfigSchema.safeParse(input(`${parent(f)}.unknown`, 1)).success, f).toBe(false);
      expect(backend.options.safeParse(input(`${parent(o)}.unknown`, 1)).success, o).toBe(false);
    }
    expect(fusedConfigSchema.safeParse({ prefetch: { enabled: true } }).success).toBe(false);
  });
});
