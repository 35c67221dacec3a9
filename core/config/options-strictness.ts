/**
 * Does a backend's options schema let an unknown key through? A zod object that is not
 * `.strict()` drops (`z.object`, the default) or keeps (`.loose()` / `.passthrough()`) a key it
 * does not know, so a misspelled option in a config passes without an error. Read from the
 * schema's definition, which zod 4 exposes as `schema._zod.def` (`type: 'object'`, and
 * `catchall`: a `never` schema when strict, `unknown` when loose, absent when stripping);
 * zod 3's `_def.unknownKeys` (`'strict' | 'strip' | 'passthrough'`) is read too, since a
 * backend brings its own zod. Wrappers (default, optional, pipe, …) and unions are looked
 * through, and nested objects are checked as well.
 */

/** A zod 4 definition, as far as this file reads it. */
interface Def {
  type?: string;
  catchall?: { _zod?: { def?: Def } };
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  options?: readonly unknown[];
}

/** Wrappers whose `innerType` holds the schema that parses the value. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'nonoptional', 'readonly', 'catch']);

/**
 * Where the schema accepts unknown keys: `''` for the options object itself, `'cache'` for a
 * nested one; undefined when every object in it is strict (or its kind is not known here).
 */
export function looseOptionsAt(schema: unknown): string | undefined {
  return walk(schema, '', 0);
}

function walk(schema: unknown, path: string, depth: number): string | undefined {
  if (depth > 32 || typeof schema !== 'object' || schema === null) return undefined;
  const def = (schema as { _zod?: { def?: Def } })._zod?.def;
  if (def === undefined) return walkZod3(schema, path, depth);
  if (def.type === 'object') {
    const catchall = def.catchall?._zod?.def?.type;
    if (catchall === undefined || catchall === 'unknown' || catchall === 'any') return path;
    return firstLoose(def.shape ?? {}, path, depth);
  }
  if (def.type !== undefined && WRAPPERS.has(def.type)) return walk(def.innerType, path, depth + 1);
  if (def.type === 'pipe') return walk(def.in, path, depth + 1) ?? walk(def.out, path, depth + 1);
  if (def.type === 'union') return (def.options ?? []).map((o) => walk(o, path, depth + 1)).find((p) => p !== undefined);
  return undefined;
}

function firstLoose(shape: Record<string, unknown>, path: string, depth: number): string | undefined {
  for (const [key, value] of Object.entries(shape)) {
    const found = walk(value, path === '' ? key : `${path}.${key}`, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** zod 3: `_def.typeName` and, on objects, `_def.unknownKeys`. */
function walkZod3(schema: unknown, path: string, depth: number): string | undefined {
  const def = (schema as { _def?: { typeName?: string; unknownKeys?: string; shape?: () => Record<string, unknown>; innerType?: unknown; schema?: unknown } })._def;
  if (def === undefined) return undefined;
  if (def.typeName === 'ZodObject') {
    if (def.unknownKeys !== 'strict') return path;
    return typeof def.shape === 'function' ? firstLoose(def.shape(), path, depth) : undefined;
  }
  if (def.innerType !== undefined) return walk(def.innerType, path, depth + 1);
  if (def.typeName === 'ZodEffects') return walk(def.schema, path, depth + 1);
  return undefined;
}
