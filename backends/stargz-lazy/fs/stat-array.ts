/**
 * The stat of a node written straight from the packed tree into the array fuse-native hands to
 * libfuse (its `getStatArray` layout, 18 uint32: mode, uid, gid, size lo/hi, dev, nlink, ino,
 * rdev, blksize, blocks lo/hi, atime, mtime, ctime in ms lo/hi), with no node object and no stat
 * object in between: a getattr (one per name the kernel looks up) and every entry of a listing
 * make one array and nothing else.
 *
 * The values are exactly `statOf` / `whiteoutStatOf` (node-stat.ts; the unit test compares
 * them for every node of a layer), which document what each field shows.
 */
import { NODE_TYPES, type PackedTree } from '../estargz/packed-tree.js';
import { BLOCK_SIZE, encodeDev, S_IFCHR, TYPE_BITS as BITS } from './node-stat.js';

/** uint32 slots of one stat in fuse-native's layout. */
export const STAT_SLOTS = 18;

/** Type bits by the packed tree's type code. */
const TYPE_BITS = NODE_TYPES.map((t) => BITS[t]);
const CODE_REG = NODE_TYPES.indexOf('reg');
const CODE_CHAR = NODE_TYPES.indexOf('char');
const CODE_BLOCK = NODE_TYPES.indexOf('block');
const TWO_32 = 4_294_967_296;

/** The stat of inode `ino` of `tree` (shown as a 0:0 character device when `whiteout`). */
export function statArray(tree: PackedTree, ino: number, whiteout: boolean): Uint32Array {
  const out = new Uint32Array(STAT_SLOTS);
  const d = tree.data;
  const ms = msOf(d.mtime[ino]!);
  out[7] = ino;
  out[9] = BLOCK_SIZE;
  put64(out, 12, ms);
  put64(out, 14, ms);
  put64(out, 16, ms);
  if (whiteout) {
    out[0] = S_IFCHR;
    out[6] = 1;
    return out;
  }
  const type = d.type[ino]!;
  const size = d.size[ino]!;
  out[0] = TYPE_BITS[type]! | (d.mode[ino]! & 0o7777);
  out[1] = d.uid[ino]!;
  out[2] = d.gid[ino]!;
  put64(out, 3, size);
  out[6] = Math.max(1, d.nlink[ino]!);
  if (type === CODE_CHAR || type === CODE_BLOCK) {
    const dev = d.devices.get(ino);
    out[8] = encodeDev(dev?.[0] ?? 0, dev?.[1] ?? 0);
  }
  if (type === CODE_REG) put64(out, 10, Math.ceil(size / 512));
  return out;
}

/** A non-negative integer below 2^53 as two uint32 (low, high), as fuse-native's `setDoubleInt`. */
function put64(out: Uint32Array, at: number, value: number): void {
  const low = value % TWO_32;
  out[at] = low;
  out[at + 1] = (value - low) / TWO_32;
}

function msOf(ns: bigint): number {
  return ns <= 0n ? 0 : Number(ns / 1_000_000n);
}
