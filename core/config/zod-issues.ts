/**
 * zod issues -> ConfigIssues with the full config path, so every message has one form whether
 * it comes from the host's schema or a backend's options schema:
 * `backends[1].options.size: Expected string, received number`.
 */
import type { z } from 'zod';
import type { ConfigIssue } from '../errors.js';
import { formatPath, type PathSegment } from './config-path.js';
import { suggest } from './suggest.js';

export function zodIssues(error: z.ZodError, prefix: readonly PathSegment[], schema?: z.ZodTypeAny): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const known = schema ? knownKeys(schema, issue.path) : [];
      for (const key of issue.keys) {
        const hint = suggest(key, known);
        out.push({ path: formatPath([...path, key]), message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}` });
      }
    } else if (issue.code === 'invalid_union' && issue.unionErrors.length > 0) {
      // Report the branch that got furthest instead of zod's bare "Invalid input".
      const best = [...issue.unionErrors].sort((a, b) => depth(b) - depth(a))[0]!;
      out.push(...zodIssues(best, prefix, undefined));
    } else {
      out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}

function depth(error: z.ZodError): number {
  return Math.max(0, ...error.issues.map((i) => i.path.length));
}

/** Keys the object schema at `path` accepts (for "did you mean" hints); [] when unknown. */
function knownKeys(schema: z.ZodTypeAny, path: readonly PathSegment[]): string[] {
  let s: z.ZodTypeAny | undefined = unwrap(schema);
  for (const seg of path) {
    if (!s) return [];
    const def = s._def as { typeName?: string; shape?: () => Record<string, z.ZodTypeAny>; type?: z.ZodTypeAny; valueType?: z.ZodTypeAny };
    if (def.typeName === 'ZodObject' && typeof seg === 'string') s = unwrap(def.shape?.()[seg]);
    else if (def.typeName === 'ZodArray' && typeof seg === 'number') s = unwrap(def.type);
    else if (def.typeName === 'ZodRecord') s = unwrap(def.valueType);
    else return [];
  }
  const def = s?._def as { typeName?: string; shape?: () => Record<string, unknown> } | undefined;
  return def?.typeName === 'ZodObject' && def.shape ? Object.keys(def.shape()) : [];
}

/** Look through optional/default/nullable/effects wrappers to the schema underneath. */
function unwrap(schema: z.ZodTypeAny | undefined): z.ZodTypeAny | undefined {
  let s = schema;
  for (let i = 0; s && i < 16; i++) {
    const def = s._def as { typeName?: string; innerType?: z.ZodTypeAny; schema?: z.ZodTypeAny; in?: z.ZodTypeAny };
    const next = def.innerType ?? def.schema ?? (def.typeName === 'ZodPipeline' ? def.in : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}
