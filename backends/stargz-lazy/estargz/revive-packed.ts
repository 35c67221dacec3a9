/** The packed index a TOC index worker posts back (toc-index-worker-pool.ts), made whole again. */
import type { PackedPrefetch } from './build-tree.js';
import type { PackedTreeData } from './packed-tree.js';

/** Structured clone turns Buffers into plain Uint8Arrays: the tables are Buffers again. */
export function revive(p: { data: PackedTreeData; prefetch: PackedPrefetch }): { data: PackedTreeData; prefetch: PackedPrefetch } {
  const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const xattrs = new Map<number, ReadonlyMap<string, Buffer>>();
  for (const [ino, m] of p.data.xattrs) xattrs.set(ino, new Map([...m].map(([k, v]) => [k, buf(v)])));
  return { data: { ...p.data, names: buf(p.data.names), digests: buf(p.data.digests), xattrs }, prefetch: p.prefetch };
}
