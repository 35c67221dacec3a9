/**
 * The file tree of a layer packed into typed arrays and two byte tables, so that a mounted
 * layer costs ~0.2 kB per file instead of ~0.8 kB of JS objects (fused keeps one per mounted
 * layer, for as long as it is mounted; issue 5: memory bounded however many layers are mounted).
 *
 * Layout (index = inode number; slot 0 is unused):
 * - per node: type, flags, mode, owner, size, time, link count, its home (parent inode + own base
 *   name, for `path`), the digest of a regular file, its chunk range, a directory's range of
 *   child edges and of whiteout edges;
 * - edges: (name, inode) in TOC order per directory, plus per directory the edge positions
 *   sorted by name bytes, so a lookup is a binary search with no string made;
 * - chunks: offset, compressed size, inner offset, offset in the file, size, digest;
 * - `names`: UTF-8 bytes of every base name and edge name; `digests`: raw digest bytes, each
 *   prefixed by its length (32, 48, 64: the algorithm); rare attributes (symlink targets, device
 *   numbers, xattrs, paths not equal to parent + name) sit in small sparse maps.
 *
 * - chunks sit in blob order (TOC order); each with the inode of the file it belongs to (0 for
 *   the chunks of a file a later entry replaced), and the distinct ones (by digest) listed, so
 *   a layer's fetch progress needs no node object.
 *
 * Built once by `buildTree` straight from the checked TOC; immutable afterwards.
 */
import type { ChunkRef, NodeAttributes, NodeType } from './layer-node.js';

export const NODE_TYPES: readonly NodeType[] = ['dir', 'reg', 'symlink', 'char', 'block', 'fifo'];
export const FLAG_IMPLICIT = 1;
export const FLAG_OPAQUE = 2;
export const NO_DIGEST = 0xffff_ffff;
const ALGORITHM_BY_BYTES = new Map([
  [32, 'sha256'],
  [48, 'sha384'],
  [64, 'sha512'],
]);

/** The arrays of a packed tree, by inode (slot 0 unused), by edge and by chunk; see the file comment. */
export interface PackedTreeData {
  count: number;
  fileBytes: number;
  sharesMembers: boolean;
  type: Uint8Array;
  flags: Uint8Array;
  mode: Uint16Array;
  uid: Uint32Array;
  gid: Uint32Array;
  user: Uint32Array;
  group: Uint32Array;
  size: Float64Array;
  mtime: BigInt64Array;
  nlink: Uint32Array;
  parent: Uint32Array;
  nameAt: Uint32Array;
  nameLen: Uint16Array;
  digestAt: Uint32Array;
  chunkStart: Uint32Array;
  chunkCount: Uint32Array;
  childStart: Uint32Array;
  childCount: Uint32Array;
  whStart: Uint32Array;
  whCount: Uint32Array;
  edgeIno: Uint32Array;
  edgeNameAt: Uint32Array;
  edgeNameLen: Uint16Array;
  edgeSorted: Uint32Array;
  cOffset: Float64Array;
  cCompressed: Float64Array;
  cInner: Float64Array;
  cFileOffset: Float64Array;
  cSize: Float64Array;
  cDigestAt: Uint32Array;
  /** Inode of the file each chunk belongs to; 0: a replaced file's. */
  cOwner: Uint32Array;
  /** Chunks with a digest not seen before in blob order, among those with an owner. */
  distinct: Uint32Array;
  /** Their digests: the TOC's own strings, kept (the chunk cache's keys, asked for right after a mount). */
  distinctDigests: readonly string[];
  names: Buffer;
  digests: Buffer;
  owners: readonly string[];
  linkNames: ReadonlyMap<number, string>;
  devices: ReadonlyMap<number, readonly [number, number]>;
  xattrs: ReadonlyMap<number, ReadonlyMap<string, Buffer>>;
}

export class PackedTree {
  readonly count: number;
  /** Sum of the sizes of the regular files (each inode once). */
  readonly fileBytes: number;
  /** Some gzip member holds more than one chunk (a chunk has `innerOffset > 0`). */
  readonly sharesMembers: boolean;
  readonly #d: PackedTreeData;

  constructor(data: PackedTreeData) {
    this.count = data.count;
    this.fileBytes = data.fileBytes;
    this.sharesMembers = data.sharesMembers;
    this.#d = data;
  }

  /** The arrays and tables of the tree (to hand it to another thread; never to be changed). */
  get data(): PackedTreeData {
    return this.#d;
  }

  type(ino: number): NodeType {
    return NODE_TYPES[this.#d.type[ino]!]!;
  }

  /** The plain attributes of `ino`. */
  attributes(ino: number): NodeAttributes {
    const flags = this.#d.flags[ino]!;
    const dev = this.#d.devices.get(ino);
    return {
      ino,
      type: this.type(ino),
      mode: this.#d.mode[ino]!,
      uid: this.#d.uid[ino]!,
      gid: this.#d.gid[ino]!,
      userName: this.#d.owners[this.#d.user[ino]!]!,
      groupName: this.#d.owners[this.#d.group[ino]!]!,
      size: this.#d.size[ino]!,
      mtimeNs: this.#d.mtime[ino]!,
      linkName: this.#d.linkNames.get(ino) ?? '',
      devMajor: dev?.[0] ?? 0,
      devMinor: dev?.[1] ?? 0,
      xattrs: this.#d.xattrs.get(ino) ?? NO_XATTRS,
      nlink: this.#d.nlink[ino]!,
      implicit: (flags & FLAG_IMPLICIT) !== 0,
      opaque: (flags & FLAG_OPAQUE) !== 0,
    };
  }

  /** The digest of regular file `ino` as the TOC gives it, or undefined. */
  fileDigest(ino: number): string | undefined {
    const at = this.#d.digestAt[ino]!;
    return at === NO_DIGEST ? undefined : this.#digest(at);
  }

  path(ino: number): string {
    if (ino === 1) return '';
    const parent = this.#d.parent[ino]!;
    const name = this.#d.names.toString('utf8', this.#d.nameAt[ino]!, this.#d.nameAt[ino]! + this.#d.nameLen[ino]!);
    return parent === 1 ? name : `${this.path(parent)}/${name}`;
  }

  chunks(ino: number): ChunkRef[] {
    const start = this.#d.chunkStart[ino]!;
    const out: ChunkRef[] = [];
    for (let c = start; c < start + this.#d.chunkCount[ino]!; c++) out.push(this.chunkRef(c));
    return out;
  }

  /** Number of child (or whiteout) edges of directory `ino`. */
  edgeCount(ino: number, whiteouts: boolean): number {
    return (whiteouts ? this.#d.whCount : this.#d.childCount)[ino]!;
  }

  /** The inode the edge named `name` of directory `ino` leads to, or 0. */
  edge(ino: number, whiteouts: boolean, name: string): number {
    const start = (whiteouts ? this.#d.whStart : this.#d.childStart)[ino]!;
    const count = (whiteouts ? this.#d.whCount : this.#d.childCount)[ino]!;
    if (count === 0) return 0;
    // The name's bytes in a reused buffer: a lookup (every FUSE getattr) allocates nothing.
    const length = Buffer.byteLength(name);
    const query = length <= QUERY_BYTES ? QUERY : Buffer.allocUnsafe(length);
    query.write(name, 0, length, 'utf8');
    let lo = start;
    let hi = start + count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.#d.edgeSorted[mid]!;
      const cmp = this.#d.names.compare(query, 0, length, this.#d.edgeNameAt[at]!, this.#d.edgeNameAt[at]! + this.#d.edgeNameLen[at]!);
      if (cmp === 0) return this.#d.edgeIno[at]!;
      if (cmp < 0) lo = mid + 1;
      else hi = mid;
    }
    return 0;
  }

  /** The edges of directory `ino` in TOC order: [name, inode]. */
  *edges(ino: number, whiteouts: boolean): IterableIterator<[string, number]> {
    const start = (whiteouts ? this.#d.whStart : this.#d.childStart)[ino]!;
    const count = (whiteouts ? this.#d.whCount : this.#d.childCount)[ino]!;
    for (let e = start; e < start + count; e++) {
      yield [this.#d.names.toString('utf8', this.#d.edgeNameAt[e]!, this.#d.edgeNameAt[e]! + this.#d.edgeNameLen[e]!), this.#d.edgeIno[e]!];
    }
  }

  /** Number of distinct chunks (by digest) of the layer's files. */
  get distinctCount(): number {
    return this.#d.distinct.length;
  }

  /** The chunk slot of the `i`-th distinct chunk, in blob order. */
  distinctSlot(i: number): number {
    return this.#d.distinct[i]!;
  }

  /** Digests of the distinct chunks, in blob order. */
  get distinctDigests(): readonly string[] {
    return this.#d.distinctDigests;
  }

  /** Number of chunk slots (chunk entries of the TOC, blob order). */
  get chunkCount(): number {
    return this.#d.cOwner.length;
  }

  /** Blob offset of the gzip member holding chunk `slot`. */
  chunkOffset(slot: number): number {
    return this.#d.cOffset[slot]!;
  }

  /** Compressed size of that member. */
  chunkCompressedSize(slot: number): number {
    return this.#d.cCompressed[slot]!;
  }

  /** Where chunk `slot` starts in its member's uncompressed stream. */
  chunkInnerOffset(slot: number): number {
    return this.#d.cInner[slot]!;
  }

  /** Inode of the file chunk `slot` belongs to (0: a file a later entry replaced). */
  chunkOwner(slot: number): number {
    return this.#d.cOwner[slot]!;
  }

  /** Uncompressed bytes of chunk `slot`. */
  chunkSize(slot: number): number {
    return this.#d.cSize[slot]!;
  }

  chunkDigest(slot: number): string {
    return this.#digest(this.#d.cDigestAt[slot]!);
  }

  chunkRef(slot: number): ChunkRef {
    const d = this.#d;
    return {
      offset: d.cOffset[slot]!,
      compressedSize: d.cCompressed[slot]!,
      innerOffset: d.cInner[slot]!,
      chunkOffset: d.cFileOffset[slot]!,
      chunkSize: d.cSize[slot]!,
      chunkDigest: this.#digest(d.cDigestAt[slot]!),
    };
  }

  /** Bytes held by the typed arrays and tables (not counting the small sparse maps). */
  get byteLength(): number {
    let total = 0;
    for (const v of Object.values(this.#d)) if (ArrayBuffer.isView(v)) total += v.byteLength;
    return total;
  }

  #digest(at: number): string {
    const raw = this.#d.digests[at]!;
    return `${ALGORITHM_BY_BYTES.get(raw)!}:${this.#d.digests.toString('hex', at + 1, at + 1 + raw)}`;
  }
}

const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();
/** Longer than any name a TOC may hold (entry-name.ts: 255-byte components); longer queries allocate. */
const QUERY_BYTES = 1024;
/** Scratch for `edge`: filled and read within one synchronous call, never held. */
const QUERY = Buffer.allocUnsafe(QUERY_BYTES);
