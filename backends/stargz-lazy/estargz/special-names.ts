/**
 * Names with a meaning in layers: overlay/OCI whiteouts and the eStargz landmarks.
 *
 * - `.wh.<name>` deletes `<name>` of the lower layers; `.wh..wh..opq` in a directory hides all
 *   of that directory's lower content (opaque). Other `.wh..wh.*` names are aufs metadata,
 *   ignored like containerd's applier does. `<name>` must be a name a directory can hold:
 *   `.wh.` (nothing), `.wh..` and `.wh...` (the directory itself, its parent) are refused, as
 *   they would list `.` and `..` as entries of the directory.
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

const PLAIN: SpecialName = Object.freeze({ kind: 'plain' });
const OPAQUE: SpecialName = Object.freeze({ kind: 'opaque' });
const AUFS_META: SpecialName = Object.freeze({ kind: 'aufs-meta' });
const PREFETCH: SpecialName = Object.freeze({ kind: 'landmark', prefetch: true });
const NO_PREFETCH: SpecialName = Object.freeze({ kind: 'landmark', prefetch: false });

/** What the clean `path` (with base name `base`) means. No allocation but for a whiteout. */
export function classifyName(path: string, base: string): SpecialName {
  if (base.charCodeAt(0) !== 0x2e) return PLAIN; // every special name starts with '.'
  if (base === OPAQUE_MARKER) return OPAQUE;
  if (base.startsWith(WHITEOUT_META_PREFIX)) return AUFS_META;
  if (base.startsWith(WHITEOUT_PREFIX)) return { kind: 'whiteout', target: base.slice(WHITEOUT_PREFIX.length) };
  if (path === PREFETCH_LANDMARK) return PREFETCH;
  if (path === NO_PREFETCH_LANDMARK) return NO_PREFETCH;
  return PLAIN;
}

/**
 * Why `target` (the name after `.wh.`) cannot be whited out, or undefined when it can: it must
 * be one path component other than `.` and `..`. (A clean path's base name never holds `/`
 * or NUL; they are checked anyway, as this is the one rule for whiteout targets.)
 */
export function whiteoutTargetProblem(target: string): string | undefined {
  if (target === '') return 'whiteout names nothing';
  if (target === '.' || target === '..') return `whiteout of ${JSON.stringify(target)} (a directory cannot hide itself or its parent)`;
  if (target.includes('/') || target.includes('\0')) return 'whiteout target holds a slash or a NUL byte';
  return undefined;
}
