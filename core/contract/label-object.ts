/**
 * Label sets as plain objects without a prototype. Label keys come from clients, and
 * `out[key] = value` on an ordinary `{}` silently drops a `__proto__` key (the assignment
 * calls Object.prototype's setter, which ignores strings), while `constructor` or `toString`
 * read through to Object.prototype. Every label set built from input (gRPC conversion,
 * update merge, metastore checks, LMDB decoding) starts from `createLabels()`, so such keys
 * are kept like any other. (Spread `{ ...labels }` and JSON.parse/stringify keep own
 * `__proto__` keys too; plain assignment is the hazard.)
 */
import type { Labels } from './snapshotter.js';

/** An empty label set with no prototype. */
export function createLabels(): Labels {
  return Object.create(null) as Labels;
}

/** A prototype-less copy of the own enumerable string entries of `labels`. */
export function copyLabels(labels: Readonly<Labels>): Labels {
  const out = createLabels();
  for (const [k, v] of Object.entries(labels)) out[k] = v;
  return out;
}
