import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { looseOptionsAt } from '../../../../core/config/options-strictness.js';
import memory from '../../../../backends/memory/index.js';
import overlayfsNative from '../../../../backends/overlayfs-native/index.js';
import stargzLazy from '../../../../backends/stargz-lazy/index.js';

describe('looseOptionsAt: where an options schema lets an unknown key through', () => {
  it.each([
    ['z.object (strips)', z.object({ a: z.string() }), ''],
    ['.loose()', z.object({ a: z.string() }).loose(), ''],
    ['.passthrough()', z.object({ a: z.string() }).passthrough(), ''],
    ['behind .default()', z.object({ a: z.string() }).default({ a: 'x' }), ''],
    ['behind .transform()', z.object({ a: z.string() }).transform((o) => o), ''],
    ['a nested object', z.object({ cache: z.object({ size: z.number() }).prefault({}) }).strict(), 'cache'],
    ['deeper', z.object({ a: z.object({ b: z.object({}).optional() }).strict() }).strict(), 'a.b'],
    ['one side of a union', z.union([z.object({}).strict(), z.object({ x: z.number() })]), ''],
  ])('%s: loose', (_name, schema, at) => {
    expect(looseOptionsAt(schema)).toBe(at);
  });

  it.each([
    ['.strict()', z.object({ a: z.string() }).strict()],
    ['z.strictObject', z.strictObject({ a: z.string() })],
    ['behind .default() and .refine()', z.object({ a: z.number() }).strict().refine((o) => o.a > 0).default({ a: 1 })],
    ['z.preprocess', z.preprocess((v) => v, z.object({}).strict())],
    ['a typed catchall', z.object({}).catchall(z.string())],
    ['not an object', z.string()],
    ['not zod', { safeParse: () => ({ success: true, data: {} }) }],
  ])('%s: strict (or not known)', (_name, schema) => {
    expect(looseOptionsAt(schema)).toBeUndefined();
  });

  it('the built-ins are strict all the way down', () => {
    for (const d of [memory, overlayfsNative, stargzLazy]) expect(looseOptionsAt(d.options), d.name).toBeUndefined();
  });
});
