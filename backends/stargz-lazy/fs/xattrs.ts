/**
 * Extended attributes a node shows: the ones its TOC entry carries, and for an opaque
 * directory (one holding `.wh..wh..opq`) `trusted.overlay.opaque=y`, which is how overlayfs
 * recognises, in a lower layer, a directory that hides the content of the layers below
 * (stargz-snapshotter presents the same). Whiteouts show none.
 */
import type { LayerNode } from '../estargz/layer-node.js';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';
const OPAQUE_VALUE = Buffer.from('y');
const NONE: ReadonlyMap<string, Buffer> = new Map();

const merged = new WeakMap<LayerNode, ReadonlyMap<string, Buffer>>();

export function xattrsOf(node: LayerNode, whiteout: boolean): ReadonlyMap<string, Buffer> {
  if (whiteout) return NONE;
  if (!node.opaque) return node.xattrs;
  let all = merged.get(node);
  if (!all) {
    all = new Map([...node.xattrs, [OPAQUE_XATTR, OPAQUE_VALUE]]);
    merged.set(node, all);
  }
  return all;
}
