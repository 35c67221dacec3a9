/**
 * OPEN of a layer file: the hook the passthrough part extends (it answers a complete cached
 * file with a backing id and FOPEN.PASSTHROUGH). This one opens every regular file for reading
 * with FOPEN.KEEP_CACHE: the page cache of a file is kept across opens (a layer never changes),
 * so a file read twice reaches this process once. No handle is kept: `fh` is 0 and RELEASE has
 * nothing to free.
 */
import { NODE_TYPES, type PackedTree } from '../estargz/packed-tree.js';
import { EINVAL, EISDIR, EROFS } from '../fs/errno.js';
import type { NodeRef } from './node-ids.js';
import { FOPEN } from './wire/opcodes.js';

export interface OpenAnswer {
  fh: bigint;
  /** FOPEN.* bits. */
  flags: number;
  /** A backing id from FUSE_DEV_IOC_BACKING_OPEN (with FOPEN.PASSTHROUGH in `flags`), or 0. */
  backingId: number;
}

/** Opens node `node` with open(2) `flags`: the answer or a negative errno. */
export type OpenFile = (node: NodeRef, flags: number) => OpenAnswer | number;

const REG = NODE_TYPES.indexOf('reg');
const DIR = NODE_TYPES.indexOf('dir');
const O_ACCMODE = 3;
const O_RDONLY = 0;
const KEEP_CACHE: OpenAnswer = { fh: 0n, flags: FOPEN.KEEP_CACHE, backingId: 0 };

/** The OPEN every regular file of `tree` gets without passthrough. */
export function keepCacheOpen(tree: PackedTree): OpenFile {
  return (node, flags) => {
    // The mount is read-only (the kernel refuses writing opens itself); checked again here.
    if ((flags & O_ACCMODE) !== O_RDONLY) return EROFS;
    const type = tree.data.type[node.ino];
    if (node.whiteout || type !== REG) return type === DIR && !node.whiteout ? EISDIR : EINVAL;
    return KEEP_CACHE;
  };
}
