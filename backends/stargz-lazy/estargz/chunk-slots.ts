/**
 * The chunks of a layer's files as the packed tree stores them: one slot per chunk entry of the
 * TOC, in TOC order, which is blob order (offsets never decrease; `layoutChunks` checks it).
 * For finding the chunks that lie near an offset without a node object per file; a slot's
 * `ChunkRef` and its file's path are made only when asked for.
 */
import type { ChunkRef } from './layer-node.js';
import type { PackedTree } from './packed-tree.js';

export class ChunkSlots {
  readonly length: number;
  readonly #tree: PackedTree;

  constructor(tree: PackedTree) {
    this.#tree = tree;
    this.length = tree.chunkCount;
  }

  /** Offset in the blob of the gzip member holding chunk `slot`. */
  offset(slot: number): number {
    return this.#tree.chunkOffset(slot);
  }

  /** Compressed size of that member. */
  compressedSize(slot: number): number {
    return this.#tree.chunkCompressedSize(slot);
  }

  /** Where chunk `slot` starts in its member's uncompressed stream (> 0: the member holds more). */
  innerOffset(slot: number): number {
    return this.#tree.chunkInnerOffset(slot);
  }

  /** Inode of the file chunk `slot` belongs to; 0 for a file a later entry replaced. */
  owner(slot: number): number {
    return this.#tree.chunkOwner(slot);
  }

  ref(slot: number): ChunkRef {
    return this.#tree.chunkRef(slot);
  }

  /** Path of inode `ino`. */
  path(ino: number): string {
    return this.#tree.path(ino);
  }

  /** The first slot whose member starts at or after `offset`. */
  firstAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offset(mid) < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
