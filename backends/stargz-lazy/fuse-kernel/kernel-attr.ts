/**
 * The attributes the kernel transport answers for a node, written straight from the packed
 * tree: exactly what fuse-native shows (fs/node-stat.ts `statOf` / `whiteoutStatOf`, compared
 * for every node of a layer by the unit test) except that
 * - times are nanoseconds (the TOC's own precision; atime = ctime = mtime, as right after an
 *   extraction that kept times; before 1970 shows as 1970, as with fuse-native), and
 * - the inode number is 64-bit (a bigint; the tree's own number).
 */
import { NODE_TYPES, type PackedTree } from '../estargz/packed-tree.js';
import { BLOCK_SIZE, encodeDev, S_IFCHR, TYPE_BITS as BITS } from '../fs/node-stat.js';
import type { Attr } from './wire/attr.js';

/** Type bits by the packed tree's type code. */
const TYPE_BITS = NODE_TYPES.map((t) => BITS[t]);
const CODE_REG = NODE_TYPES.indexOf('reg');
const CODE_CHAR = NODE_TYPES.indexOf('char');
const CODE_BLOCK = NODE_TYPES.indexOf('block');

/** The attributes of inode `ino` of `tree` (a 0:0 character device, mode 0, root's, when `whiteout`). */
export function attrOf(tree: PackedTree, ino: number, whiteout: boolean): Attr {
  const d = tree.data;
  const mtime = d.mtime[ino]!;
  const ns = mtime > 0n ? mtime : 0n;
  if (whiteout) {
    return { ino: BigInt(ino), size: 0, blocks: 0, atimeNs: ns, mtimeNs: ns, ctimeNs: ns, mode: S_IFCHR, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: BLOCK_SIZE };
  }
  const type = d.type[ino]!;
  const size = d.size[ino]!;
  let rdev = 0;
  if (type === CODE_CHAR || type === CODE_BLOCK) {
    const dev = d.devices.get(ino);
    rdev = encodeDev(dev?.[0] ?? 0, dev?.[1] ?? 0);
  }
  return {
    ino: BigInt(ino),
    size,
    blocks: type === CODE_REG ? Math.ceil(size / 512) : 0,
    atimeNs: ns,
    mtimeNs: ns,
    ctimeNs: ns,
    mode: TYPE_BITS[type]! | (d.mode[ino]! & 0o7777),
    nlink: Math.max(1, d.nlink[ino]!),
    uid: d.uid[ino]!,
    gid: d.gid[ino]!,
    rdev,
    blksize: BLOCK_SIZE,
  };
}
