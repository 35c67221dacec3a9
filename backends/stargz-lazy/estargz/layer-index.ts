/**
 * The read-only view of one eStargz layer that the FUSE layer serves from: lookups by path or
 * inode, directory listings, and for a byte range of a file the chunks to fetch and verify.
 * Built from a parsed TOC (`parseToc`); holds no blob bytes.
 *
 * The tree is kept packed (`PackedTree`: typed arrays and byte tables, ~4× smaller than one
 * object per file) and `LayerNode` objects are made when asked for. One object per inode is
 * handed out for as long as anything holds it (a weak map), so callers may compare nodes by
 * identity (`byIno(node.ino) === node`) and key caches by node.
 */
import { InvalidArgumentError } from '../../../core/sdk.js';
import { buildTree, type PackedPrefetch, type Prefetch } from './build-tree.js';
import { ChunkList } from './chunk-list.js';
import { ChunkSlots } from './chunk-slots.js';
import { PackedNode } from './packed-node.js';
import { PackedTree, type PackedTreeData } from './packed-tree.js';
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
  readonly #tree: PackedTree;
  readonly #prefetch: PackedPrefetch;
  #chunkList: ChunkList | undefined;
  #chunkSlots: ChunkSlots | undefined;
  /** Nodes handed out and still held by someone, by inode. */
  readonly #live = new Map<number, WeakRef<LayerNode>>();
  readonly #nodeOf = (ino: number): LayerNode => this.#node(ino);
  readonly #released = new FinalizationRegistry<number>((ino) => {
    if (this.#live.get(ino)?.deref() === undefined) this.#live.delete(ino);
  });

  private constructor(tree: PackedTree, prefetch: PackedPrefetch) {
    this.#tree = tree;
    this.#prefetch = prefetch;
    this.root = this.#node(1);
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
    const { tree, prefetch } = buildTree(toc, options.tocOffset, limits);
    return new LayerIndex(tree, prefetch);
  }

  /** An index from the parts of one built elsewhere (`packed()`, e.g. in a worker thread: toc-index-worker.ts). */
  static fromPacked(p: { data: PackedTreeData; prefetch: PackedPrefetch }): LayerIndex {
    return new LayerIndex(new PackedTree(p.data), p.prefetch);
  }

  /** What `fromPacked` needs: plain arrays, tables and maps (structured-clone safe). */
  packed(): { data: PackedTreeData; prefetch: PackedPrefetch } {
    return { data: this.#tree.data, prefetch: this.#prefetch };
  }

  /**
   * The packed tree itself, for hot paths that answer from its arrays without a node object
   * (the FUSE getattr / readdir / getxattr answers: fs/packed-answers.ts). Never to be changed.
   */
  get tree(): PackedTree {
    return this.#tree;
  }

  /** Number of inodes (files, directories, whiteouts). */
  get size(): number {
    return this.#tree.count;
  }

  /** Sum of the sizes of the layer's regular files (hard-linked ones once). */
  get fileBytes(): number {
    return this.#tree.fileBytes;
  }

  /**
   * Whether some gzip member holds more than one chunk (a chunk with `innerOffset > 0`): when
   * false, there is no need to walk `nodes()` looking for such members.
   */
  get sharesMembers(): boolean {
    return this.#tree.sharesMembers;
  }

  /** Bytes the packed tree holds (typed arrays and tables; the nodes handed out are extra). */
  get byteLength(): number {
    return this.#tree.byteLength;
  }

  /** The prioritized files to fetch at mount time. */
  get prefetch(): Prefetch {
    const p = this.#prefetch;
    return { landmark: p.landmark, files: Array.from(p.files, (ino) => this.#node(ino)), endOffset: p.endOffset };
  }

  /**
   * Every distinct chunk (by digest) of the layer's files once, in blob order, with its size,
   * digest and a file holding it: what fetching the whole layer, or counting how much of it is
   * cached, needs, without a node object per file. Made on first use.
   */
  chunkList(): ChunkList {
    return (this.#chunkList ??= new ChunkList(this.#tree));
  }

  /** The chunks as stored, in blob order, for lookups by offset (no node objects). */
  chunkSlots(): ChunkSlots {
    return (this.#chunkSlots ??= new ChunkSlots(this.#tree));
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
    return Number.isInteger(ino) && ino >= 1 && ino <= this.#tree.count ? this.#node(ino) : undefined;
  }

  /** Every node, in inode order (made one by one: holding them all is the caller's choice). */
  *nodes(): IterableIterator<LayerNode> {
    for (let ino = 1; ino <= this.#tree.count; ino++) yield this.#node(ino);
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

  #node(ino: number): LayerNode {
    const held = this.#live.get(ino)?.deref();
    if (held !== undefined) return held;
    const node = new PackedNode(this.#tree, ino, this.#nodeOf);
    this.#live.set(ino, new WeakRef(node));
    this.#released.register(node, ino);
    return node;
  }
}
