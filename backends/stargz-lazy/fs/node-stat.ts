/**
 * What `stat(2)` shows for a node of the layer, exactly as a normal pull would have extracted
 * it: type and permission bits (setuid, setgid, sticky included), owners, size, link count,
 * device numbers, modification time. A whiteout is shown the way overlayfs expects a lower
 * layer to mark a deleted name, and the way stargz-snapshotter shows it: a character device
 * 0:0, mode 0, owned by root, one link, with the whiteout entry's time.
 *
 * Times: fuse-native carries milliseconds, so a TOC time with sub-millisecond digits is
 * rounded down (upstream writers store whole seconds). atime and ctime equal mtime, as they
 * would right after an extraction that preserved times. Times before 1970 show as 1970.
 */
import type Fuse from 'fuse-native';
import type { LayerNode, NodeType } from '../estargz/layer-node.js';

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFDIR = 0o040000;
export const S_IFBLK = 0o060000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** The S_IF* type bits of each node type. */
export const TYPE_BITS: Record<NodeType, number> = {
  fifo: S_IFIFO,
  char: S_IFCHR,
  dir: S_IFDIR,
  block: S_IFBLK,
  reg: S_IFREG,
  symlink: S_IFLNK,
};

/** Preferred I/O size the file system reports (the page size; chunks are larger). */
export const BLOCK_SIZE = 4096;

/** `st_mode` of a node: type bits and `mode & 0o7777`. */
export function modeOf(node: LayerNode): number {
  return TYPE_BITS[node.type] | (node.mode & 0o7777);
}

export function statOf(node: LayerNode): Fuse.Stat {
  const ms = msOf(node.mtimeNs);
  return {
    mode: modeOf(node),
    uid: node.uid,
    gid: node.gid,
    size: node.size,
    nlink: Math.max(1, node.nlink),
    ino: node.ino,
    rdev: node.type === 'char' || node.type === 'block' ? encodeDev(node.devMajor, node.devMinor) : 0,
    blksize: BLOCK_SIZE,
    blocks: node.type === 'reg' ? Math.ceil(node.size / 512) : 0,
    atime: ms,
    mtime: ms,
    ctime: ms,
  };
}

/** The stat of whiteout node `wh` (a `.wh.<name>` entry), shown under `<name>`. */
export function whiteoutStatOf(wh: LayerNode): Fuse.Stat {
  const ms = msOf(wh.mtimeNs);
  return { mode: S_IFCHR, uid: 0, gid: 0, size: 0, nlink: 1, ino: wh.ino, rdev: 0, blksize: BLOCK_SIZE, blocks: 0, atime: ms, mtime: ms, ctime: ms };
}

/**
 * A device number as Linux encodes it in 32 bits (`new_encode_dev`, which equals glibc's
 * `makedev` for majors below 4096 and minors below 2^20): what the FUSE protocol carries.
 */
export function encodeDev(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}

function msOf(ns: bigint): number {
  return ns <= 0n ? 0 : Number(ns / 1_000_000n);
}
