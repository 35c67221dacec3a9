/**
 * Names with a meaning in layers: overlay/OCI whiteouts and the eStargz landmarks.
 *
 * - `.wh.<name>` deletes `<name>` of the lower layers; `.wh..wh..opq` in a directory hides all
 *   of that directory's lower content (opaque). Other `.wh..wh.*` names are aufs metadata,
 *   ignored like containerd's applier does.
 * - `.prefetch.landmark` (at the root) ends the prioritized files, which come before it;
 *   `.no.prefetch.landmark` says there are none. Both are hidden, like stargz-snapshotter does.
 */
export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const PREFETCH_LANDMARK = '.prefetch.landmark';
export const NO_PREFETCH_LANDMARK = '.no.prefetch.landmark';

export type SpecialName =
  | { kind: 'opaque' }
  | { kind: 'whiteout'; target: string }
  | { kind: 'aufs-meta' }
  | { kind: 'landmark'; prefetch: boolean }
  | { kind: 'plain' };

/** What the clean `path` (with base name `base`) means. */
export function classifyName(path: string, base: string): SpecialName {
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'aufs-meta' };
  if (base.startsWith(WHITEOUT_PREFIX)) return { kind: 'whiteout', target: base.slice(WHITEOUT_PREFIX.length) };
  if (path === PREFETCH_LANDMARK) return { kind: 'landmark', prefetch: true };
  if (path === NO_PREFETCH_LANDMARK) return { kind: 'landmark', prefetch: false };
  return { kind: 'plain' };
}
