/**
 * The kernel's node ids of a layer mount: the packed tree's inode numbers themselves (the root
 * is inode 1, which is FUSE_ROOT_ID), and for a whiteout (a `.wh.<name>` entry, shown as a 0:0
 * character device under `<name>`) its own tree inode with bit 32 set.
 *
 * Why bit 32: the tree numbers its nodes in 32-bit arrays (packed-tree.ts), so no tree inode
 * ever has it, and the id alone then says "show this node as a whiteout" (a GETATTR carries
 * only the id). The whiteout keeps its tree inode as its `st_ino`, as with fuse-native. The ids
 * stay below 2^53, so they convert to number exactly.
 *
 * Ids never change while a layer is mounted (an immutable tree): nothing is allocated per
 * lookup, so FORGET has nothing to free.
 */

/** Set in the id of a whiteout. */
export const WHITEOUT_BIT = 2 ** 32;
const TREE_MAX = WHITEOUT_BIT - 1;

/** A node the kernel names: a tree inode, shown as a whiteout or not. */
export interface NodeRef {
  ino: number;
  whiteout: boolean;
}

export function nodeIdOf(ino: number, whiteout: boolean): bigint {
  return BigInt(whiteout ? WHITEOUT_BIT + ino : ino);
}

/** The node `id` names in a tree whose arrays have `slots` slots (inodes 1..slots-1), or undefined when none. */
export function nodeOf(id: bigint, slots: number): NodeRef | undefined {
  if (id <= 0n || id > BigInt(WHITEOUT_BIT + TREE_MAX)) return undefined;
  const n = Number(id);
  const whiteout = n >= WHITEOUT_BIT;
  const ino = whiteout ? n - WHITEOUT_BIT : n;
  if (ino < 1 || ino >= slots) return undefined;
  return { ino, whiteout };
}
