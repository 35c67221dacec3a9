/**
 * A node of a packed layer tree as a `LayerNode` object: made when asked for (a lookup, a
 * listing, a read), its plain attributes (`NodeAttributes`) copied out of the packed arrays,
 * its path, digest, chunks and directory maps made on first use. `LayerIndex` hands out one
 * object per inode for as long as anyone holds it, so identity comparisons keep working.
 */
import type { ChunkRef, LayerNode, NodeAttributes } from './layer-node.js';
import type { PackedTree } from './packed-tree.js';

/** How a node reaches the other nodes of its layer (the index's identity-keeping lookup). */
export type NodeOf = (ino: number) => LayerNode;

/** Its attributes are the fields `NodeAttributes` declares, set once by the constructor. */
export interface PackedNode extends NodeAttributes {}

export class PackedNode implements LayerNode {
  readonly #tree: PackedTree;
  readonly #nodeOf: NodeOf;
  #path: string | undefined;
  #digest: string | undefined | null = null;
  #chunks: readonly ChunkRef[] | undefined;
  #children: ReadonlyMap<string, LayerNode> | undefined;
  #whiteouts: ReadonlyMap<string, LayerNode> | undefined;

  constructor(tree: PackedTree, ino: number, nodeOf: NodeOf) {
    // Field by field (not Object.assign, twice as slow here): a lookup makes one node per inode.
    const a = tree.attributes(ino);
    const self: { -readonly [K in keyof NodeAttributes]: NodeAttributes[K] } = this;
    self.ino = a.ino;
    self.type = a.type;
    self.mode = a.mode;
    self.uid = a.uid;
    self.gid = a.gid;
    self.userName = a.userName;
    self.groupName = a.groupName;
    self.size = a.size;
    self.mtimeNs = a.mtimeNs;
    self.linkName = a.linkName;
    self.devMajor = a.devMajor;
    self.devMinor = a.devMinor;
    self.xattrs = a.xattrs;
    self.nlink = a.nlink;
    self.implicit = a.implicit;
    self.opaque = a.opaque;
    this.#tree = tree;
    this.#nodeOf = nodeOf;
  }

  get path(): string {
    return (this.#path ??= this.#tree.path(this.ino));
  }

  get digest(): string | undefined {
    if (this.#digest === null) this.#digest = this.#tree.fileDigest(this.ino);
    return this.#digest;
  }

  get chunks(): readonly ChunkRef[] {
    return (this.#chunks ??= this.#tree.chunks(this.ino));
  }

  get children(): ReadonlyMap<string, LayerNode> {
    return (this.#children ??= new EdgeMap(this.#tree, this.ino, false, this.#nodeOf));
  }

  get whiteouts(): ReadonlyMap<string, LayerNode> {
    return (this.#whiteouts ??= new EdgeMap(this.#tree, this.ino, true, this.#nodeOf));
  }
}

/** The children (or whiteouts) of a packed directory as a read-only Map, in TOC order. */
class EdgeMap implements ReadonlyMap<string, LayerNode> {
  constructor(
    private readonly tree: PackedTree,
    private readonly dir: number,
    private readonly whiteouts: boolean,
    private readonly nodeOf: NodeOf,
  ) {}

  get size(): number {
    return this.tree.edgeCount(this.dir, this.whiteouts);
  }

  get(name: string): LayerNode | undefined {
    const ino = this.tree.edge(this.dir, this.whiteouts, name);
    return ino === 0 ? undefined : this.nodeOf(ino);
  }

  has(name: string): boolean {
    return this.tree.edge(this.dir, this.whiteouts, name) !== 0;
  }

  *entries(): MapIterator<[string, LayerNode]> {
    for (const [name, ino] of this.tree.edges(this.dir, this.whiteouts)) yield [name, this.nodeOf(ino)];
  }

  *keys(): MapIterator<string> {
    for (const [name] of this.tree.edges(this.dir, this.whiteouts)) yield name;
  }

  *values(): MapIterator<LayerNode> {
    for (const [, ino] of this.tree.edges(this.dir, this.whiteouts)) yield this.nodeOf(ino);
  }

  [Symbol.iterator](): MapIterator<[string, LayerNode]> {
    return this.entries();
  }

  forEach(fn: (value: LayerNode, key: string, map: ReadonlyMap<string, LayerNode>) => void, thisArg?: unknown): void {
    for (const [name, node] of this.entries()) fn.call(thisArg, node, name, this);
  }
}
