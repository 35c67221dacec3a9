/**
 * Extended attributes a node shows: the ones its TOC entry carries, and for an opaque
 * directory (one holding `.wh..wh..opq`) `trusted.overlay.opaque=y`, which is how overlayfs
 * recognises, in a lower layer, a directory that hides the content of the layers below
 * (stargz-snapshotter presents the same). Whiteouts show none.
 */
import { FLAG_OPAQUE, type PackedTree } from '../estargz/packed-tree.js';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';
const OPAQUE_VALUE = Buffer.from('y');
const NONE: ReadonlyMap<string, Buffer> = new Map();

/** An opaque directory's attributes by its own (TOC) ones: made once per distinct map, kept as long as the map. */
const merged = new WeakMap<ReadonlyMap<string, Buffer>, ReadonlyMap<string, Buffer>>();

/** The xattrs of inode `ino` (none for a whiteout), from the packed tree. */
export function xattrsOf(tree: PackedTree, ino: number, whiteout: boolean): ReadonlyMap<string, Buffer> {
  if (whiteout) return NONE;
  const d = tree.data;
  const own = d.xattrs.get(ino) ?? NONE;
  if ((d.flags[ino]! & FLAG_OPAQUE) === 0) return own;
  let all = merged.get(own);
  if (!all) {
    all = new Map([...own, [OPAQUE_XATTR, OPAQUE_VALUE]]);
    merged.set(own, all);
  }
  return all;
}
