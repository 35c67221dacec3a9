/**
 * The distinct chunks (by digest) of a layer's files, each once, in blob order: for counting
 * how much of the layer a cache holds and for fetching the rest. Flat arrays, made from the
 * packed tree with no node object; a chunk's `ChunkRef` and the path of a file holding it are
 * made only when asked for (only for the chunks still to fetch).
 */
import type { ChunkRef } from './layer-node.js';
import type { PackedTree } from './packed-tree.js';

export class ChunkList {
  readonly length: number;
  /** Sum of the chunks' uncompressed sizes. */
  readonly totalBytes: number;
  /** Digest of each chunk (the chunk cache's key). */
  readonly digests: readonly string[];
  /** Uncompressed bytes of each chunk. */
  readonly sizes: Float64Array;
  readonly #tree: PackedTree;
  readonly #slots: Uint32Array;

  constructor(tree: PackedTree) {
    const n = tree.distinctCount;
    const slots = new Uint32Array(n);
    const sizes = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const slot = tree.distinctSlot(i);
      slots[i] = slot;
      sizes[i] = tree.chunkSize(slot);
      total += sizes[i]!;
    }
    this.length = n;
    this.totalBytes = total;
    this.digests = tree.distinctDigests;
    this.sizes = sizes;
    this.#tree = tree;
    this.#slots = slots;
  }

  /** Where the `i`-th chunk is and how to check it. */
  chunk(i: number): ChunkRef {
    return this.#tree.chunkRef(this.#slots[i]!);
  }

  /** Path of the first file (in blob order) holding the `i`-th chunk. */
  path(i: number): string {
    return this.#tree.path(this.#tree.chunkOwner(this.#slots[i]!));
  }
}
