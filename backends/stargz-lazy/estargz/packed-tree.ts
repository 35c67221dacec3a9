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
 * Built once from the checked object tree (`buildTree`); immutable afterwards.
 */
import type { ChunkRef, LayerNode, NodeType } from './layer-node.js';

const TYPES: readonly NodeType[] = ['dir', 'reg', 'symlink', 'char', 'block', 'fifo'];
const TYPE_CODE = new Map<NodeType, number>(TYPES.map((t, i) => [t, i]));
const FLAG_IMPLICIT = 1;
const FLAG_OPAQUE = 2;
const NO_DIGEST = 0xffff_ffff;
const ALGORITHM_BY_BYTES = new Map([
  [32, 'sha256'],
  [48, 'sha384'],
  [64, 'sha512'],
]);

/** Growable byte table. */
class ByteTable {
  bytes = Buffer.allocUnsafe(64 * 1024);
  length = 0;

  /** Appends `s` as UTF-8; returns its offset. */
  addString(s: string): number {
    const need = Buffer.byteLength(s);
    this.#reserve(need);
    const at = this.length;
    this.length += this.bytes.write(s, at, need, 'utf8');
    return at;
  }

  /** Appends a length byte and the raw bytes of digest `d` (`algorithm:hex`); returns its offset. */
  addDigest(d: string): number {
    const hex = d.slice(d.indexOf(':') + 1);
    const raw = hex.length / 2;
    this.#reserve(raw + 1);
    const at = this.length;
    this.bytes[at] = raw;
    this.bytes.write(hex, at + 1, raw, 'hex');
    this.length += raw + 1;
    return at;
  }

  finish(): Buffer {
    // A copy of the used part: the growth slack is released.
    return Buffer.from(this.bytes.subarray(0, this.length));
  }

  #reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(next, 0, 0, this.length);
    this.bytes = next;
  }
}

export class PackedTree {
  readonly count: number;
  /** Sum of the sizes of the regular files (each inode once). */
  readonly fileBytes: number;
  /** Some gzip member holds more than one chunk (a chunk has `innerOffset > 0`). */
  readonly sharesMembers: boolean;
  readonly #type: Uint8Array;
  readonly #flags: Uint8Array;
  readonly #mode: Uint16Array;
  readonly #uid: Uint32Array;
  readonly #gid: Uint32Array;
  readonly #user: Uint32Array;
  readonly #group: Uint32Array;
  readonly #size: Float64Array;
  readonly #mtime: BigInt64Array;
  readonly #nlink: Uint32Array;
  readonly #parent: Uint32Array;
  readonly #nameAt: Uint32Array;
  readonly #nameLen: Uint16Array;
  readonly #digestAt: Uint32Array;
  readonly #chunkStart: Uint32Array;
  readonly #chunkCount: Uint32Array;
  readonly #childStart: Uint32Array;
  readonly #childCount: Uint32Array;
  readonly #whStart: Uint32Array;
  readonly #whCount: Uint32Array;
  /** Edges: children and whiteouts of every directory, each directory's run contiguous. */
  readonly #edgeIno: Uint32Array;
  readonly #edgeNameAt: Uint32Array;
  readonly #edgeNameLen: Uint16Array;
  /** Per directory run: edge positions sorted by name bytes. */
  readonly #edgeSorted: Uint32Array;
  readonly #cOffset: Float64Array;
  readonly #cCompressed: Float64Array;
  readonly #cInner: Float64Array;
  readonly #cFileOffset: Float64Array;
  readonly #cSize: Float64Array;
  readonly #cDigestAt: Uint32Array;
  readonly #names: Buffer;
  readonly #digests: Buffer;
  readonly #owners: readonly string[];
  readonly #linkNames: ReadonlyMap<number, string>;
  readonly #devices: ReadonlyMap<number, readonly [number, number]>;
  readonly #xattrs: ReadonlyMap<number, ReadonlyMap<string, Buffer>>;
  readonly #paths: ReadonlyMap<number, string>;

  /** `nodes[i]` has inode `i + 1` (as `buildTree` numbers them). */
  constructor(nodes: readonly LayerNode[]) {
    const n = nodes.length + 1;
    this.count = nodes.length;
    this.#type = new Uint8Array(n);
    this.#flags = new Uint8Array(n);
    this.#mode = new Uint16Array(n);
    this.#uid = new Uint32Array(n);
    this.#gid = new Uint32Array(n);
    this.#user = new Uint32Array(n);
    this.#group = new Uint32Array(n);
    this.#size = new Float64Array(n);
    this.#mtime = new BigInt64Array(n);
    this.#nlink = new Uint32Array(n);
    this.#parent = new Uint32Array(n);
    this.#nameAt = new Uint32Array(n);
    this.#nameLen = new Uint16Array(n);
    this.#digestAt = new Uint32Array(n).fill(NO_DIGEST);
    this.#chunkStart = new Uint32Array(n);
    this.#chunkCount = new Uint32Array(n);
    this.#childStart = new Uint32Array(n);
    this.#childCount = new Uint32Array(n);
    this.#whStart = new Uint32Array(n);
    this.#whCount = new Uint32Array(n);

    let edges = 0;
    let chunks = 0;
    for (const node of nodes) {
      if (node.type === 'dir') edges += node.children.size + node.whiteouts.size;
      chunks += node.chunks.length;
    }
    this.#edgeIno = new Uint32Array(edges);
    this.#edgeNameAt = new Uint32Array(edges);
    this.#edgeNameLen = new Uint16Array(edges);
    this.#edgeSorted = new Uint32Array(edges);
    this.#cOffset = new Float64Array(chunks);
    this.#cCompressed = new Float64Array(chunks);
    this.#cInner = new Float64Array(chunks);
    this.#cFileOffset = new Float64Array(chunks);
    this.#cSize = new Float64Array(chunks);
    this.#cDigestAt = new Uint32Array(chunks);

    const names = new ByteTable();
    const digests = new ByteTable();
    const owners = new Map<string, number>();
    const owner = (s: string) => {
      let i = owners.get(s);
      if (i === undefined) owners.set(s, (i = owners.size));
      return i;
    };
    const linkNames = new Map<number, string>();
    const devices = new Map<number, readonly [number, number]>();
    const xattrs = new Map<number, ReadonlyMap<string, Buffer>>();
    const paths = new Map<number, string>();
    const homed = new Uint8Array(n);
    let e = 0;
    let c = 0;
    let fileBytes = 0;
    let sharesMembers = false;
    const addEdges = (map: ReadonlyMap<string, LayerNode>, dir: LayerNode, whiteouts: boolean): [number, number] => {
      const start = e;
      for (const [name, child] of map) {
        const at = names.addString(name);
        const len = names.length - at;
        this.#edgeIno[e] = child.ino;
        this.#edgeNameAt[e] = at;
        this.#edgeNameLen[e] = len;
        this.#edgeSorted[e] = e;
        // The edge that spells the node's own path is its home (hard links have other names).
        const own = whiteouts ? `.wh.${name}` : name;
        if (homed[child.ino] === 0 && child.path === (dir.path === '' ? own : `${dir.path}/${own}`)) {
          homed[child.ino] = 1;
          this.#parent[child.ino] = dir.ino;
          if (whiteouts) {
            this.#nameAt[child.ino] = names.addString(own);
            this.#nameLen[child.ino] = names.length - this.#nameAt[child.ino]!;
          } else {
            this.#nameAt[child.ino] = at;
            this.#nameLen[child.ino] = len;
          }
        }
        e++;
      }
      const run = this.#edgeSorted.subarray(start, e);
      const table = names;
      run.sort((a, b) => compareBytes(table.bytes, this.#edgeNameAt[a]!, this.#edgeNameLen[a]!, this.#edgeNameAt[b]!, this.#edgeNameLen[b]!));
      return [start, e - start];
    };

    for (const node of nodes) {
      const ino = node.ino;
      this.#type[ino] = TYPE_CODE.get(node.type)!;
      this.#flags[ino] = (node.implicit ? FLAG_IMPLICIT : 0) | (node.opaque ? FLAG_OPAQUE : 0);
      this.#mode[ino] = node.mode;
      this.#uid[ino] = node.uid;
      this.#gid[ino] = node.gid;
      this.#user[ino] = owner(node.userName);
      this.#group[ino] = owner(node.groupName);
      this.#size[ino] = node.size;
      this.#mtime[ino] = node.mtimeNs;
      this.#nlink[ino] = node.nlink;

      if (node.linkName !== '') linkNames.set(ino, node.linkName);
      if (node.devMajor !== 0 || node.devMinor !== 0) devices.set(ino, [node.devMajor, node.devMinor]);
      if (node.xattrs.size > 0) xattrs.set(ino, node.xattrs);
      if (node.type === 'reg') fileBytes += node.size;
      this.#chunkStart[ino] = c;
      this.#chunkCount[ino] = node.chunks.length;
      for (const ch of node.chunks) {
        this.#cOffset[c] = ch.offset;
        this.#cCompressed[c] = ch.compressedSize;
        this.#cInner[c] = ch.innerOffset;
        if (ch.innerOffset > 0) sharesMembers = true;
        this.#cFileOffset[c] = ch.chunkOffset;
        this.#cSize[c] = ch.chunkSize;
        this.#cDigestAt[c] = digests.addDigest(ch.chunkDigest);
        c++;
      }
      if (node.digest !== undefined) {
        // A file of one chunk usually has the chunk's digest as its own: stored once.
        const only = node.chunks.length === 1 && node.chunks[0]!.chunkDigest === node.digest;
        this.#digestAt[ino] = only ? this.#cDigestAt[c - 1]! : digests.addDigest(node.digest);
      }
      if (node.type === 'dir') {
        [this.#childStart[ino], this.#childCount[ino]] = addEdges(node.children, node, false);
        [this.#whStart[ino], this.#whCount[ino]] = addEdges(node.whiteouts, node, true);
      }
    }
    for (const node of nodes) {
      if (node.ino !== 1 && homed[node.ino] === 0) paths.set(node.ino, node.path);
    }
    this.fileBytes = fileBytes;
    this.sharesMembers = sharesMembers;
    this.#names = names.finish();
    this.#digests = digests.finish();
    this.#owners = [...owners.keys()];
    this.#linkNames = linkNames;
    this.#devices = devices;
    this.#xattrs = xattrs;
    this.#paths = paths;
  }

  type(ino: number): NodeType {
    return TYPES[this.#type[ino]!]!;
  }

  /** The plain attributes of `ino` (everything but path, digest, chunks, children and whiteouts). */
  attributes(ino: number): Omit<LayerNode, 'path' | 'digest' | 'chunks' | 'children' | 'whiteouts'> {
    const flags = this.#flags[ino]!;
    const dev = this.#devices.get(ino);
    return {
      ino,
      type: this.type(ino),
      mode: this.#mode[ino]!,
      uid: this.#uid[ino]!,
      gid: this.#gid[ino]!,
      userName: this.#owners[this.#user[ino]!]!,
      groupName: this.#owners[this.#group[ino]!]!,
      size: this.#size[ino]!,
      mtimeNs: this.#mtime[ino]!,
      linkName: this.#linkNames.get(ino) ?? '',
      devMajor: dev?.[0] ?? 0,
      devMinor: dev?.[1] ?? 0,
      xattrs: this.#xattrs.get(ino) ?? NO_XATTRS,
      nlink: this.#nlink[ino]!,
      implicit: (flags & FLAG_IMPLICIT) !== 0,
      opaque: (flags & FLAG_OPAQUE) !== 0,
    };
  }

  /** The digest of regular file `ino` as the TOC gives it, or undefined. */
  fileDigest(ino: number): string | undefined {
    const at = this.#digestAt[ino]!;
    return at === NO_DIGEST ? undefined : this.#digest(at);
  }

  path(ino: number): string {
    if (ino === 1) return '';
    const override = this.#paths.get(ino);
    if (override !== undefined) return override;
    const parent = this.#parent[ino]!;
    const name = this.#names.toString('utf8', this.#nameAt[ino]!, this.#nameAt[ino]! + this.#nameLen[ino]!);
    return parent === 1 ? name : `${this.path(parent)}/${name}`;
  }

  chunks(ino: number): ChunkRef[] {
    const start = this.#chunkStart[ino]!;
    const out: ChunkRef[] = [];
    for (let c = start; c < start + this.#chunkCount[ino]!; c++) {
      out.push({
        offset: this.#cOffset[c]!,
        compressedSize: this.#cCompressed[c]!,
        innerOffset: this.#cInner[c]!,
        chunkOffset: this.#cFileOffset[c]!,
        chunkSize: this.#cSize[c]!,
        chunkDigest: this.#digest(this.#cDigestAt[c]!),
      });
    }
    return out;
  }

  /** Number of child (or whiteout) edges of directory `ino`. */
  edgeCount(ino: number, whiteouts: boolean): number {
    return (whiteouts ? this.#whCount : this.#childCount)[ino]!;
  }

  /** The inode the edge named `name` of directory `ino` leads to, or 0. */
  edge(ino: number, whiteouts: boolean, name: string): number {
    const start = (whiteouts ? this.#whStart : this.#childStart)[ino]!;
    const count = (whiteouts ? this.#whCount : this.#childCount)[ino]!;
    if (count === 0) return 0;
    const query = Buffer.from(name, 'utf8');
    let lo = start;
    let hi = start + count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.#edgeSorted[mid]!;
      const cmp = this.#names.compare(query, 0, query.length, this.#edgeNameAt[at]!, this.#edgeNameAt[at]! + this.#edgeNameLen[at]!);
      if (cmp === 0) return this.#edgeIno[at]!;
      if (cmp < 0) lo = mid + 1;
      else hi = mid;
    }
    return 0;
  }

  /** The edges of directory `ino` in TOC order: [name, inode]. */
  *edges(ino: number, whiteouts: boolean): IterableIterator<[string, number]> {
    const start = (whiteouts ? this.#whStart : this.#childStart)[ino]!;
    const count = (whiteouts ? this.#whCount : this.#childCount)[ino]!;
    for (let e = start; e < start + count; e++) {
      yield [this.#names.toString('utf8', this.#edgeNameAt[e]!, this.#edgeNameAt[e]! + this.#edgeNameLen[e]!), this.#edgeIno[e]!];
    }
  }

  /** Bytes held by the typed arrays and tables (not counting the small sparse maps). */
  get byteLength(): number {
    let total = this.#names.length + this.#digests.length;
    for (const a of [
      this.#type, this.#flags, this.#mode, this.#uid, this.#gid, this.#user, this.#group, this.#size, this.#mtime, this.#nlink,
      this.#parent, this.#nameAt, this.#nameLen, this.#digestAt, this.#chunkStart, this.#chunkCount, this.#childStart,
      this.#childCount, this.#whStart, this.#whCount, this.#edgeIno, this.#edgeNameAt, this.#edgeNameLen, this.#edgeSorted,
      this.#cOffset, this.#cCompressed, this.#cInner, this.#cFileOffset, this.#cSize, this.#cDigestAt,
    ]) total += a.byteLength;
    return total;
  }

  #digest(at: number): string {
    const raw = this.#digests[at]!;
    return `${ALGORITHM_BY_BYTES.get(raw)!}:${this.#digests.toString('hex', at + 1, at + 1 + raw)}`;
  }
}

const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

/** Byte order of two slices of `bytes` (what `Buffer.compare` gives), without making Buffers. */
function compareBytes(bytes: Buffer, a: number, alen: number, b: number, blen: number): number {
  return bytes.compare(bytes, b, b + blen, a, a + alen);
}
