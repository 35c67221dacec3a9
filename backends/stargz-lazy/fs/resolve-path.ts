/**
 * A path the kernel asks about (`/a/b`) -> the inode of the layer it names, including the
 * whiteouts, which the index keeps apart from the listed children (see `LayerNode.whiteouts`)
 * and which the file system shows as 0:0 character devices under the deleted name.
 *
 * Answered from the packed tree (a binary search per component, no node object), and the
 * directories resolved last are remembered by path: libfuse 2 hands every operation a full
 * path, and the kernel asks about the names of one directory after another, so the parent of
 * a path is nearly always known and a lookup costs one search, however deep the path. A layer
 * never changes while mounted, so a remembered directory never needs invalidating; the memory
 * is bounded per mount (`MAX_DIRS` paths of at most `MAX_DIR_CHARS` characters, oldest out).
 */
import { NODE_TYPES, type PackedTree } from '../estargz/packed-tree.js';

/** Directories remembered per mount. */
export const MAX_DIRS = 256;
/** Longer directory paths are resolved every time (bounds the memory: ≤ 256 × 512 characters). */
export const MAX_DIR_CHARS = 512;
const ROOT = 1;
const DIR = NODE_TYPES.indexOf('dir');

/** What `resolve` answers: an inode (> 0), a whiteout's inode negated (< 0), or 0 (no such name). */
export type Resolved = number;

export class PathResolver {
  readonly #tree: PackedTree;
  readonly #dirs = new Map<string, number>();

  constructor(tree: PackedTree) {
    this.#tree = tree;
  }

  /** Directories remembered now (for tests and the bound). */
  get cachedDirs(): number {
    return this.#dirs.size;
  }

  resolve(path: string): Resolved {
    if (path === '/' || path === '') return ROOT;
    const slash = path.lastIndexOf('/');
    if (slash < 0) return this.#walk(path, 0, ROOT);
    if (slash === 0) return this.#last(ROOT, path.slice(1));
    const parentPath = path.slice(0, slash);
    let parent = this.#dirs.get(parentPath);
    if (parent === undefined) {
      parent = this.#walk(parentPath, 0, ROOT);
      if (parent <= 0 || this.#tree.data.type[parent] !== DIR) return 0;
      this.#remember(parentPath, parent);
    }
    return this.#last(parent, path.slice(slash + 1));
  }

  /** Components of `path` from `from` on, below directory `ino`; a whiteout only as the last one. */
  #walk(path: string, from: number, ino: number): Resolved {
    // FUSE paths are absolute and clean: '', then one component per level.
    let start = path.charCodeAt(from) === 0x2f ? from + 1 : from;
    for (;;) {
      const end = path.indexOf('/', start);
      if (end < 0) return this.#last(ino, path.slice(start));
      const child = this.#child(ino, path.slice(start, end));
      if (child <= 0) return 0;
      ino = child;
      start = end + 1;
    }
  }

  #last(dir: number, name: string): Resolved {
    const child = this.#child(dir, name);
    if (child !== 0) return child;
    if (name === '' || name === '.' || name === '..') return 0;
    const wh = this.#tree.edge(dir, true, name);
    return wh === 0 ? 0 : -wh;
  }

  #child(dir: number, name: string): number {
    if (name === '' || name === '.' || name === '..') return 0;
    return this.#tree.edge(dir, false, name);
  }

  #remember(path: string, ino: number): void {
    if (path.length > MAX_DIR_CHARS) return;
    if (this.#dirs.size >= MAX_DIRS) this.#dirs.delete(this.#dirs.keys().next().value!);
    this.#dirs.set(path, ino);
  }
}
