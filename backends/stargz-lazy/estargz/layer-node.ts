/**
 * One file of a layer as the TOC describes it: what the FUSE layer serves for lookup,
 * getattr, readdir, readlink and getxattr without touching the registry, and where the bytes
 * of a regular file are (`chunks`).
 */

/** File types a node can have (TOC `hardlink` entries become extra names of their target, `chunk` entries become `chunks`). */
export type NodeType = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo';

/** Where one chunk of a regular file is, and how to check it. */
export interface ChunkRef {
  /** Offset in the blob of the gzip member holding the chunk (Range start). */
  readonly offset: number;
  /** Bytes of that member: from `offset` to the next member with data, or to the TOC. */
  readonly compressedSize: number;
  /** Offset of the chunk inside the member's decompressed stream (0 unless several chunks share a member). */
  readonly innerOffset: number;
  /** Offset of the chunk in the file. */
  readonly chunkOffset: number;
  /** Uncompressed bytes of the chunk (> 0). */
  readonly chunkSize: number;
  /** Digest the chunk's uncompressed bytes must have before they may be served or cached. */
  readonly chunkDigest: string;
}

/**
 * What a node is apart from its place in the tree and its contents: the plain attributes that
 * getattr, readlink and getxattr answer. `PackedNode` copies them out of the packed arrays.
 */
export interface NodeAttributes {
  /** Inode number, unique in the layer, stable for a given TOC; the root is 1. */
  readonly ino: number;
  readonly type: NodeType;
  /** Permission bits with setuid/setgid/sticky (`mode & 0o7777`); the type is in `type`. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly userName: string;
  readonly groupName: string;
  /** reg: file size; symlink: byte length of the target; others: 0. */
  readonly size: number;
  /** Modification time, ns since the epoch (0 when the TOC has none). */
  readonly mtimeNs: bigint;
  /** symlink: the target, as stored. */
  readonly linkName: string;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  /** Names pointing to this node (files), or 2 + subdirectories (dirs). */
  readonly nlink: number;
  /** dir: made up for a path whose parent had no entry (mode 0755, root-owned, time 0). */
  readonly implicit: boolean;
  /** dir: holds `.wh..wh..opq`, i.e. hides the lower layers' content of this directory. */
  readonly opaque: boolean;
}

/** A node with its name, contents and (for a directory) entries. */
export interface LayerNode extends NodeAttributes {
  /** Clean path of the (first) name of the node; '' for the root. Hard links have more names. */
  readonly path: string;
  /** reg: digest of the whole file, when the TOC has one. */
  readonly digest: string | undefined;
  /** reg: chunks in file order, covering [0, size) exactly; empty for an empty file. */
  readonly chunks: readonly ChunkRef[];
  /** dir: entries by name (whiteouts, opaque markers and landmarks are not among them). */
  readonly children: ReadonlyMap<string, LayerNode>;
  /**
   * dir: `.wh.<name>` entries, by the name they delete, with the whiteout entry's own
   * attributes. A name that also has a real entry here is not listed (the entry wins).
   * overlayfs expects each as a 0:0 character device named `<name>`.
   */
  readonly whiteouts: ReadonlyMap<string, LayerNode>;
}
