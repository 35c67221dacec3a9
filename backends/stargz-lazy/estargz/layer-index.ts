/**
 * The read-only view of one eStargz layer that the FUSE layer serves from: lookups by path or
 * inode, directory listings, and for a byte range of a file the chunks to fetch and verify.
 * Built from a parsed TOC (`parseToc`); holds no blob bytes.
 */
import { InvalidArgumentError } from '../../../core/sdk.js';
import { buildTree, type Prefetch } from './build-tree.js';
import { tryNormalizeEntryName } from './entry-name.js';
import { EstargzLimitError } from './errors.js';
import { resolveLimits, type EstargzLimits } from './limits.js';
import type { ChunkRef, LayerNode } from './layer-node.js';
import type { Toc } from './toc-schema.js';

export interface LayerIndexOptions {
  /** Offset of the TOC in the blob (from the footer): every chunk must lie before it. */
  tocOffset: number;
  limits?: Partial<EstargzLimits>;
}

export class LayerIndex {
  readonly root: LayerNode;
  /** The prioritized files to fetch at mount time. */
  readonly prefetch: Prefetch;
  readonly #nodes: LayerNode[];

  private constructor(root: LayerNode, nodes: LayerNode[], prefetch: Prefetch) {
    this.root = root;
    this.#nodes = nodes;
    this.prefetch = prefetch;
  }

  /** Build and check the tree; MalformedEstargzError (or EstargzLimitError) when the TOC is unsafe. */
  static build(toc: Toc, options: LayerIndexOptions): LayerIndex {
    const limits = resolveLimits(options.limits);
    if (!Number.isSafeInteger(options.tocOffset) || options.tocOffset < 0) {
      throw new InvalidArgumentError(`tocOffset must be a non-negative integer, got ${options.tocOffset}`);
    }
    if (toc.entries.length > limits.maxEntries) {
      throw new EstargzLimitError('maxEntries', toc.entries.length, limits.maxEntries, 'TOC entry count');
    }
    const { root, nodes, prefetch } = buildTree(toc, options.tocOffset, limits);
    return new LayerIndex(root, nodes, prefetch);
  }

  /** Number of inodes (files, directories, whiteouts). */
  get size(): number {
    return this.#nodes.length;
  }

  /** The node at `path` ('/a/b', 'a/b' and '' for the root all work), or undefined. */
  lookup(path: string): LayerNode | undefined {
    const clean = tryNormalizeEntryName(path);
    if (clean === undefined) return undefined;
    let node: LayerNode | undefined = this.root;
    if (clean === '') return node;
    for (const part of clean.split('/')) {
      node = node.children.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  /** Entries of directory `dir` by name (whiteouts, opaque markers and landmarks are not among them; see `LayerNode`). */
  readdir(dir: LayerNode): ReadonlyMap<string, LayerNode> {
    if (dir.type !== 'dir') throw new InvalidArgumentError(`${dir.path || '/'} is not a directory`);
    return dir.children;
  }

  /** The node with inode number `ino`, or undefined. */
  byIno(ino: number): LayerNode | undefined {
    return this.#nodes[ino - 1];
  }

  /** Every node, in inode order. */
  nodes(): Iterable<LayerNode> {
    return this.#nodes.values();
  }

  /**
   * The chunks holding bytes [offset, offset + length) of regular file `file`, clamped to the
   * file size, in file order. Each must be fetched (`offset`, `compressedSize`), inflated and
   * verified (`readChunk`) before any of its bytes are served.
   */
  chunksFor(file: LayerNode, offset: number, length: number): ChunkRef[] {
    if (file.type !== 'reg') throw new InvalidArgumentError(`${file.path || '/'} is not a regular file`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new InvalidArgumentError(`bad range offset=${offset} length=${length}`);
    }
    const end = Math.min(file.size, offset + length);
    if (offset >= end) return [];
    const chunks = file.chunks;
    // First chunk whose end is past `offset`.
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = chunks[mid]!;
      if (c.chunkOffset + c.chunkSize <= offset) lo = mid + 1;
      else hi = mid;
    }
    const out: ChunkRef[] = [];
    for (let i = lo; i < chunks.length && chunks[i]!.chunkOffset < end; i++) out.push(chunks[i]!);
    return out;
  }
}
