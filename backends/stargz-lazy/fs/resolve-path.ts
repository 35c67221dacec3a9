/**
 * A path the kernel asks about (`/a/b`) -> the node of the layer it names, including the
 * whiteouts, which the index keeps apart from the listed children (see `LayerNode.whiteouts`)
 * and which the file system shows as 0:0 character devices under the deleted name.
 */
import type { LayerIndex } from '../estargz/layer-index.js';
import type { LayerNode } from '../estargz/layer-node.js';

export interface Resolved {
  node: LayerNode;
  /** `node` is a `.wh.<name>` entry shown as `<name>`. */
  whiteout: boolean;
}

export function resolvePath(index: LayerIndex, path: string): Resolved | undefined {
  let node = index.root;
  if (path === '/' || path === '') return { node, whiteout: false };
  const parts = path.split('/');
  // FUSE paths are absolute and clean: '', then one component per level.
  for (let i = parts[0] === '' ? 1 : 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '' || part === '.' || part === '..') return undefined;
    const child = node.children.get(part);
    if (child) {
      node = child;
      continue;
    }
    const wh = i === parts.length - 1 ? node.whiteouts.get(part) : undefined;
    return wh ? { node: wh, whiteout: true } : undefined;
  }
  return { node, whiteout: false };
}
