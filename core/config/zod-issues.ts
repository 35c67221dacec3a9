/**
 * zod issues -> ConfigIssues with the full config path, so every message has one form whether
 * it comes from the host's schema or a backend's options schema:
 * `backends[1].options.size: Invalid input: expected string, received number`.
 */
import type { z } from 'zod';
import type { ConfigIssue } from '../contract/errors.js';
import { formatPath, type PathSegment } from './config-path.js';
import { suggest } from './suggest.js';

type Issue = z.core.$ZodIssue;

export function zodIssues(error: z.ZodError, prefix: readonly PathSegment[], schema?: z.ZodType): ConfigIssue[] {
  return issuesOf(error.issues, prefix, schema);
}

function issuesOf(issues: readonly Issue[], prefix: readonly PathSegment[], schema: z.ZodType | undefined): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const own = segments(issue.path);
    const path = [...prefix, ...own];
    if (issue.code === 'unrecognized_keys') {
      const known = schema ? knownKeys(schema, own) : [];
      for (const key of issue.keys) {
        const hint = suggest(key, known);
        out.push({ path: formatPath([...path, key]), message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}` });
      }
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest instead of zod's bare "Invalid input". The
      // branches' paths are relative to the union itself.
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0]!;
      out.push(...issuesOf(best, path, undefined));
    } else {
      out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}

/** zod paths may hold symbols (never in a config read from JSON or JS objects' own keys). */
function segments(path: readonly PropertyKey[]): PathSegment[] {
  return path.map((s) => (typeof s === 'symbol' ? String(s) : s));
}

function depth(issues: readonly Issue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

/** The parts of zod 4's schema definitions (`schema._zod.def`) this file looks at. */
interface Def {
  type?: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return schema._zod.def as Def;
}

/** Keys the object schema at `path` accepts (for "did you mean" hints); [] when unknown. */
function knownKeys(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let s: z.ZodType | undefined = unwrap(schema);
  for (const seg of path) {
    if (!s) return [];
    const def = defOf(s);
    if (def.type === 'object' && typeof seg === 'string') s = unwrap(def.shape?.[seg]);
    else if (def.type === 'array' && typeof seg === 'number') s = unwrap(def.element);
    else if (def.type === 'record') s = unwrap(def.valueType);
    else return [];
  }
  const def = s ? defOf(s) : undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** Look through optional/default/nullable/pipe/lazy wrappers to the schema underneath. */
function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema;
  for (let i = 0; s && i < 16; i++) {
    const def = defOf(s);
    const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined) ?? (def.type === 'lazy' ? def.getter?.() : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}
