/**
 * The metadata operations of one layer by node id, as the kernel protocol asks them (LOOKUP of a
 * name in a directory, GETATTR, READLINK, the xattrs, directory entries by index): answered
 * synchronously from the packed tree, with the same values as the fuse-native transport
 * (fs/layer-fs.ts): the whiteouts (kept apart from the listed children in the tree) appear under
 * the deleted name as 0:0 character devices, listed after the children; an opaque directory
 * shows `trusted.overlay.opaque=y` (fs/xattrs.ts). Every operation answers its value or a
 * negative errno; none allocates more than its answer.
 *
 * Node ids are the tree's inodes (node-ids.ts): a lookup allocates nothing and FORGET has
 * nothing to free.
 */
import { NODE_TYPES, type PackedTree } from '../estargz/packed-tree.js';
import { EINVAL, ENODATA, ENOENT, ENOTDIR } from '../fs/errno.js';
import { xattrsOf } from '../fs/xattrs.js';
import { attrOf } from './kernel-attr.js';
import { nodeIdOf, nodeOf, type NodeRef } from './node-ids.js';
import type { Attr } from './wire/attr.js';

const ROOT = 1;
const DIR = NODE_TYPES.indexOf('dir');
const SYMLINK = NODE_TYPES.indexOf('symlink');

/** A name found in a directory: its node id and attributes. */
export interface Entry {
  nodeid: bigint;
  attr: Attr;
}

/** One entry of a listing: its name, the node it names, its attributes. */
export interface DirEntry extends Entry {
  name: string;
}

export class LayerInodes {
  readonly #tree: PackedTree;
  readonly #slots: number;

  constructor(tree: PackedTree) {
    this.#tree = tree;
    this.#slots = tree.data.type.length;
  }

  /** The node `nodeid` names, or undefined (a stale or foreign id). */
  node(nodeid: bigint): NodeRef | undefined {
    return nodeOf(nodeid, this.#slots);
  }

  /** Name `name` in directory `parent`: a child, else a whiteout; ENOENT, or ENOTDIR when `parent` is none. */
  lookup(parent: bigint, name: string): Entry | number {
    const dir = this.#dir(parent);
    if (dir < 0) return dir;
    if (name === '' || name === '.' || name === '..') return name === '' ? ENOENT : this.#dotEntry(dir, name);
    const child = this.#tree.edge(dir, false, name);
    if (child !== 0) return { nodeid: nodeIdOf(child, false), attr: attrOf(this.#tree, child, false) };
    const wh = this.#tree.edge(dir, true, name);
    if (wh !== 0) return { nodeid: nodeIdOf(wh, true), attr: attrOf(this.#tree, wh, true) };
    return ENOENT;
  }

  getattr(nodeid: bigint): Attr | number {
    const n = this.node(nodeid);
    return n ? attrOf(this.#tree, n.ino, n.whiteout) : ENOENT;
  }

  /** The target of a symlink; EINVAL for any other node. */
  readlink(nodeid: bigint): string | number {
    const n = this.node(nodeid);
    if (!n) return ENOENT;
    if (n.whiteout || this.#tree.data.type[n.ino] !== SYMLINK) return EINVAL;
    return this.#tree.data.linkNames.get(n.ino) ?? '';
  }

  /** The value of xattr `name`, or ENODATA. */
  getxattr(nodeid: bigint, name: string): Buffer | number {
    const n = this.node(nodeid);
    if (!n) return ENOENT;
    return xattrsOf(this.#tree, n.ino, n.whiteout).get(name) ?? ENODATA;
  }

  /** The xattr names as listxattr(2) lists them: each followed by a NUL. */
  listxattr(nodeid: bigint): Buffer | number {
    const n = this.node(nodeid);
    if (!n) return ENOENT;
    const names = [...xattrsOf(this.#tree, n.ino, n.whiteout).keys()];
    return Buffer.from(names.map((k) => `${k}\0`).join(''));
  }

  /** Is `nodeid` a directory? ENOENT, ENOTDIR, or 0. */
  checkDir(nodeid: bigint): number {
    const dir = this.#dir(nodeid);
    return dir < 0 ? dir : 0;
  }

  /**
   * Entry `index` of directory `nodeid`'s listing: 0 '.', 1 '..', then the children in TOC
   * order, then the whiteouts; undefined past the end (or for no directory). The index + 1 is
   * the offset the kernel asks for the next one with.
   */
  entryAt(nodeid: bigint, index: number): DirEntry | undefined {
    const dir = this.#dir(nodeid);
    if (dir < 0 || !Number.isSafeInteger(index) || index < 0) return undefined;
    if (index < 2) {
      const name = index === 0 ? '.' : '..';
      return { name, ...(this.#dotEntry(dir, name) as Entry) };
    }
    const d = this.#tree.data;
    let i = index - 2;
    let whiteout = false;
    if (i >= d.childCount[dir]!) {
      i -= d.childCount[dir]!;
      whiteout = true;
      if (i >= d.whCount[dir]!) return undefined;
    }
    const e = (whiteout ? d.whStart : d.childStart)[dir]! + i;
    const ino = d.edgeIno[e]!;
    const name = d.names.toString('utf8', d.edgeNameAt[e]!, d.edgeNameAt[e]! + d.edgeNameLen[e]!);
    return { name, nodeid: nodeIdOf(ino, whiteout), attr: attrOf(this.#tree, ino, whiteout) };
  }

  /** '.' or '..' of directory `dir` (the root is its own parent). */
  #dotEntry(dir: number, name: string): Entry {
    const ino = name === '.' || dir === ROOT ? dir : this.#tree.data.parent[dir] || dir;
    return { nodeid: nodeIdOf(ino, false), attr: attrOf(this.#tree, ino, false) };
  }

  /** The tree inode of directory `nodeid`, or ENOENT / ENOTDIR. */
  #dir(nodeid: bigint): number {
    const n = this.node(nodeid);
    if (!n) return ENOENT;
    if (n.whiteout || this.#tree.data.type[n.ino] !== DIR) return ENOTDIR;
    return n.ino;
  }
}
