/**
 * TOC entries -> the packed file tree of a layer (`PackedTree`). Names are normalised (see
 * `entry-name.ts`), parent directories are implied when the TOC has no entry for them, a later
 * entry for the same name replaces the earlier one (a directory over a directory keeps its
 * children, as extracting the tar would), hard links become extra names of their target,
 * whiteouts, opaque markers and landmarks are recorded instead of listed. Inode numbers are
 * assigned by a depth-first walk in TOC order, so they are stable for a given TOC.
 *
 * The TOC is the image author's: every step is linear in the entries (and their name bytes)
 * whatever their order. Hard links are resolved once each, through the other links they name
 * (memoised, with an explicit stack: a chain of a million links listed in reverse costs a
 * million steps, not a million passes). A directory replaced by another node kills only its
 * own subtree (each node dies at most once), and the nodes made, implied directories
 * included, are capped by `maxEntries`: deep paths cannot multiply the tree.
 *
 * Built for speed in a freshly started fused (JIT cold): one pass over the entries into flat
 * per-node arrays (a node is a number; only directories hold Maps, of child name -> node),
 * then the walk that numbers the inodes, then one pass that packs them. No object per file.
 */
import { layoutChunks, type ChunkTable } from './chunk-layout.js';
import { normalizeEntryName } from './entry-name.js';
import { EstargzLimitError, MalformedEstargzError } from './errors.js';
import type { EstargzLimits } from './limits.js';
import type { LayerNode } from './layer-node.js';
import { parseModtime } from './modtime.js';
import { FLAG_IMPLICIT, FLAG_OPAQUE, NO_DIGEST, PackedTree } from './packed-tree.js';
import { classifyName, whiteoutTargetProblem } from './special-names.js';
import type { Toc, TocEntry } from './toc-schema.js';

/** The prioritized files of a layer (eStargz landmarks). */
export interface Prefetch {
  /** `prefetch`: files before `.prefetch.landmark`; `no-prefetch`: the layer says none; `none`: no landmark. */
  readonly landmark: 'prefetch' | 'no-prefetch' | 'none';
  /** Non-empty regular files before the landmark, in blob order. */
  readonly files: readonly LayerNode[];
  /** End (exclusive) of the compressed range holding all their chunks: fetch [0, endOffset). 0 when none. */
  readonly endOffset: number;
}

/** `Prefetch` with the files as inode numbers. */
export interface PackedPrefetch {
  readonly landmark: Prefetch['landmark'];
  readonly files: Uint32Array;
  readonly endOffset: number;
}

export interface BuiltTree {
  tree: PackedTree;
  prefetch: PackedPrefetch;
}

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const SYMLINK_MAX = 4095;

// Type codes: the index in NODE_TYPES.
const DIR = 0;
const REG = 1;
const SYMLINK = 2;
const CHAR = 3;
const BLOCK = 4;
/** A whiteout of type `hardlink` is a plain (empty) file. */
const TYPE_CODE: Readonly<Record<string, number>> = { dir: 0, reg: 1, hardlink: 1, symlink: 2, char: 3, block: 4, fifo: 5 };
/** Build-time only: the node is a whiteout (never listed among children, never has chunks). */
const FLAG_WHITEOUT = 4;
/** Build-time only: the node was in a directory replaced by another node (unreachable). */
const FLAG_DEAD = 8;
const ROOT = 0;

export function buildTree(toc: Toc, tocOffset: number, limits: EstargzLimits): BuiltTree {
  const chunks = layoutChunks(toc.entries, tocOffset, limits);
  const b = new TreeBuilder(toc.entries, limits.maxEntries);
  b.addEntries();
  b.resolveHardlinks();
  const order = b.numberInodes();
  return b.pack(order, chunks);
}

class TreeBuilder {
  // Per node (by build-time id; the root is 0).
  readonly #entry: number[] = []; // the entry that gave the attributes; -1: implied
  readonly #type: number[] = [];
  readonly #flags: number[] = [];
  readonly #home: number[] = []; // the directory holding it under its own name; -1 for the root
  readonly #name: string[] = []; // its own base name there (`.wh.x` for a whiteout)
  readonly #user: number[] = [];
  readonly #group: number[] = [];
  readonly #size: number[] = [];
  readonly #mtime: bigint[] = [];
  readonly #children: (Map<string, number> | undefined)[] = [];
  readonly #whiteouts: (Map<string, number> | undefined)[] = [];
  readonly #xattrs = new Map<number, Map<string, Buffer>>();
  /** Directories by clean path (a cache: a dead one is not there any more). */
  readonly #dirs = new Map<string, number>();
  readonly #owners = new Map<string, number>();
  readonly #userNames = new Map<number, string>();
  readonly #groupNames = new Map<number, string>();
  readonly #links: HardLink[] = [];
  /** The last hard link of each name, by directory node then name: an index in `#links`. */
  readonly #linkAt = new Map<number, Map<string, number>>();
  /** Pairs (entry index, node) of the non-empty regular files, in TOC order. */
  readonly #dataFiles: number[] = [];
  #landmark: { index: number; prefetch: boolean } | undefined;
  #ino = new Uint32Array(0);
  #nlink = new Uint32Array(0);

  constructor(
    private readonly entries: readonly TocEntry[],
    /** Nodes made (implied directories and replaced nodes included) may not exceed this. */
    private readonly maxNodes: number,
  ) {
    this.#add(-1, '', DIR, FLAG_IMPLICIT);
    this.#owner('');
  }

  addEntries(): void {
    const entries = this.entries;
    for (let index = 0; index < entries.length; index++) {
      const e = entries[index]!;
      const type = e.type;
      if (type === 'chunk') continue;
      const path = normalizeEntryName(e.name);
      // userName/groupName appear only on the first entry of each id.
      if (e.userName) this.#userNames.set(e.uid ?? 0, e.userName);
      if (e.groupName) this.#groupNames.set(e.gid ?? 0, e.groupName);
      if (path === '') {
        if (type !== 'dir') throw this.#bad(index, `the layer root must be a directory, not ${type}`);
        this.#apply(ROOT, e, index);
        this.#flags[ROOT] = this.#flags[ROOT]! & ~FLAG_IMPLICIT;
        continue;
      }
      const slash = path.lastIndexOf('/');
      const base = slash < 0 ? path : path.slice(slash + 1);
      const special = classifyName(path, base);
      if (special.kind === 'landmark' && type === 'reg') {
        this.#landmark ??= { index, prefetch: special.prefetch };
        continue;
      }
      const dir = slash < 0 ? ROOT : this.#ensureDir(path.slice(0, slash), index);
      if (special.kind === 'opaque') {
        this.#flags[dir] = this.#flags[dir]! | FLAG_OPAQUE;
        continue;
      }
      if (special.kind === 'aufs-meta') continue;
      if (special.kind === 'whiteout') {
        const problem = whiteoutTargetProblem(special.target);
        if (problem !== undefined) throw this.#bad(index, problem);
        const wh = this.#add(dir, base, TYPE_CODE[type]!, FLAG_WHITEOUT);
        this.#apply(wh, e, index);
        this.#size[wh] = 0; // a whiteout is a 0:0 character device to overlayfs: no content, whatever size its entry claims
        let whiteouts = this.#whiteouts[dir];
        if (whiteouts === undefined) this.#whiteouts[dir] = whiteouts = new Map();
        whiteouts.set(special.target, wh);
        continue;
      }
      if (type === 'hardlink') {
        if (!e.linkName) throw this.#bad(index, 'hardlink without linkName');
        let names = this.#linkAt.get(dir);
        if (names === undefined) this.#linkAt.set(dir, (names = new Map()));
        names.set(base, this.#links.length);
        this.#links.push({ dir, base, target: normalizeEntryName(e.linkName), index });
        continue;
      }
      const children = this.#children[dir]!;
      const existing = children.get(base);
      let node: number;
      if (existing !== undefined && this.#type[existing] === DIR && type === 'dir') {
        node = existing;
        this.#flags[node] = this.#flags[node]! & ~FLAG_IMPLICIT;
      } else {
        if (existing !== undefined && this.#type[existing] === DIR) this.#kill(existing); // its subtree is gone
        node = this.#add(dir, base, TYPE_CODE[type]!, 0);
        children.set(base, node);
      }
      this.#apply(node, e, index);
      if (type === 'reg' && this.#size[node]! > 0) this.#dataFiles.push(index, node);
    }
  }

  /**
   * Hard links may point at files or at other hard links, in any order; cycles and dangling
   * targets are refused. A target path is looked up in the finished tree, where the last hard
   * link of a name replaces any other entry of that name: a name that is a link resolves
   * through that link. Each link is resolved once (memoised), chains with an explicit stack.
   */
  resolveHardlinks(): void {
    const links = this.#links;
    const resolved = new Int32Array(links.length).fill(UNRESOLVED);
    const stack: number[] = [];
    for (let first = 0; first < links.length; first++) {
      if (resolved[first] !== UNRESOLVED) continue;
      stack.push(first);
      resolved[first] = RESOLVING;
      while (stack.length > 0) {
        const i = stack[stack.length - 1]!;
        const link = links[i]!;
        const found = this.#walk(link.target);
        let node = found;
        if (found <= LINK_BASE) {
          const j = LINK_BASE - found;
          node = resolved[j]!;
          if (node === RESOLVING) throw this.#bad(link.index, `hardlink cycle through ${quote(link.target)}`);
          if (node === UNRESOLVED) {
            resolved[j] = RESOLVING;
            stack.push(j);
            continue;
          }
        } else if (node < 0) {
          throw this.#bad(link.index, `hardlink target ${quote(link.target)} does not exist`);
        } else if (this.#type[node] === DIR) {
          throw this.#bad(link.index, `hardlink to directory ${quote(link.target)}`);
        }
        resolved[i] = node;
        stack.pop();
      }
    }
    // The last link of each name takes its place (in TOC order: the others are replaced).
    for (const [dir, names] of this.#linkAt) {
      const children = this.#children[dir]!;
      for (const [base, i] of names) children.set(base, resolved[i]!);
    }
  }

  /** Depth-first in TOC order: the nodes by inode (`order[ino - 1]`); sets inode numbers and link counts. */
  numberInodes(): number[] {
    const count = this.#type.length;
    const ino = (this.#ino = new Uint32Array(count));
    const nlink = (this.#nlink = new Uint32Array(count));
    const order: number[] = [];
    const visit = (node: number) => {
      nlink[node]!++;
      if (ino[node] !== 0) return; // another name of a hard-linked file
      order.push(node);
      ino[node] = order.length;
      if (this.#type[node] !== DIR) return;
      nlink[node] = 2;
      const whiteouts = this.#whiteouts[node];
      for (const [name, child] of this.#children[node]!) {
        whiteouts?.delete(name); // a real entry wins over a whiteout of the same name
        visit(child);
        if (this.#type[child] === DIR) nlink[node]!++;
      }
      if (whiteouts === undefined) return;
      for (const wh of whiteouts.values()) {
        order.push(wh);
        ino[wh] = order.length;
        nlink[wh] = 1;
      }
    };
    visit(ROOT);
    return order;
  }

  pack(order: number[], chunks: ChunkTable): BuiltTree {
    const entries = this.entries;
    const inoOf = this.#ino;
    const n = order.length + 1;
    const type = new Uint8Array(n);
    const flags = new Uint8Array(n);
    const mode = new Uint16Array(n);
    const uid = new Uint32Array(n);
    const gid = new Uint32Array(n);
    const user = new Uint32Array(n);
    const group = new Uint32Array(n);
    const size = new Float64Array(n);
    const mtime = new BigInt64Array(n);
    const nlink = new Uint32Array(n);
    const parent = new Uint32Array(n);
    const nameAt = new Uint32Array(n);
    const nameLen = new Uint16Array(n);
    const digestAt = new Uint32Array(n).fill(NO_DIGEST);
    const chunkStart = new Uint32Array(n);
    const chunkCount = new Uint32Array(n);
    const childStart = new Uint32Array(n);
    const childCount = new Uint32Array(n);
    const whStart = new Uint32Array(n);
    const whCount = new Uint32Array(n);
    let edgeTotal = 0;
    for (const node of order) {
      if (this.#type[node] !== DIR || (this.#flags[node]! & FLAG_WHITEOUT) !== 0) continue;
      edgeTotal += this.#children[node]!.size + (this.#whiteouts[node]?.size ?? 0);
    }
    const edgeIno = new Uint32Array(edgeTotal);
    const edgeNameAt = new Uint32Array(edgeTotal);
    const edgeNameLen = new Uint16Array(edgeTotal);
    const edgeSorted = new Uint32Array(edgeTotal);
    const cDigestAt = new Uint32Array(chunks.length);
    const cOwner = new Uint32Array(chunks.length);
    const names = new NameTable();
    const digests = new DigestTable();
    const linkNames = new Map<number, string>();
    const devices = new Map<number, readonly [number, number]>();
    const xattrs = new Map<number, ReadonlyMap<string, Buffer>>();
    let fileBytes = 0;
    let sharesMembers = false;
    let edge = 0;
    const edgeNames: string[] = [];

    for (let ino = 1; ino < n; ino++) {
      const node = order[ino - 1]!;
      const index = this.#entry[node]!;
      const e = index >= 0 ? entries[index] : undefined;
      const t = this.#type[node]!;
      const f = this.#flags[node]!;
      type[ino] = t;
      flags[ino] = f & (FLAG_IMPLICIT | FLAG_OPAQUE);
      mode[ino] = e === undefined ? 0o755 : (e.mode ?? 0) & 0o7777;
      uid[ino] = e?.uid ?? 0;
      gid[ino] = e?.gid ?? 0;
      user[ino] = this.#user[node]!;
      group[ino] = this.#group[node]!;
      size[ino] = this.#size[node]!;
      mtime[ino] = this.#mtime[node]!;
      nlink[ino] = this.#nlink[node]!;
      if (node !== ROOT) parent[ino] = inoOf[this.#home[node]!]!;
      const x = this.#xattrs.get(node);
      if (x !== undefined) xattrs.set(ino, x);
      if (e === undefined) {
        // An implied directory: nothing more.
      } else if (t === SYMLINK) {
        linkNames.set(ino, e.linkName!);
      } else if (t === CHAR || t === BLOCK) {
        if (e.devMajor || e.devMinor) devices.set(ino, [e.devMajor ?? 0, e.devMinor ?? 0]);
      } else if (t === REG) {
        fileBytes += size[ino]!;
        const count = (f & FLAG_WHITEOUT) === 0 ? chunks.count[index]! : 0;
        const first = chunks.first[index]!;
        if (count > 0) {
          chunkStart[ino] = first;
          chunkCount[ino] = count;
          for (let c = first; c < first + count; c++) {
            cOwner[c] = ino;
            cDigestAt[c] = digests.add(chunks.chunkDigest[c]!);
            if (chunks.innerOffset[c]! > 0) sharesMembers = true;
          }
        }
        if (e.digest !== undefined) {
          // A file of one chunk usually has the chunk's digest as its own: stored once.
          digestAt[ino] = count === 1 && chunks.chunkDigest[first] === e.digest ? cDigestAt[first]! : digests.add(e.digest);
        }
      }
      if (t !== DIR || (f & FLAG_WHITEOUT) !== 0) continue;

      const start = edge;
      for (const [name, child] of this.#children[node]!) {
        const at = names.add(name);
        edgeIno[edge] = inoOf[child]!;
        edgeNameAt[edge] = at;
        edgeNameLen[edge] = names.lastLength;
        edgeNames.push(name);
        // The edge that spells the child's own path is its home (hard links are other names).
        if (this.#home[child] === node && this.#name[child] === name) {
          nameAt[inoOf[child]!] = at;
          nameLen[inoOf[child]!] = names.lastLength;
        }
        edge++;
      }
      childStart[ino] = start;
      childCount[ino] = edge - start;
      sortRun(edgeSorted, start, edgeNames, names.surrogates);
      edgeNames.length = 0;
      names.surrogates = false;

      const whiteouts = this.#whiteouts[node];
      whStart[ino] = edge;
      if (whiteouts === undefined) continue;
      for (const [target, wh] of whiteouts) {
        edgeIno[edge] = inoOf[wh]!;
        edgeNameAt[edge] = names.add(target);
        edgeNameLen[edge] = names.lastLength;
        edgeNames.push(target);
        nameAt[inoOf[wh]!] = names.add(this.#name[wh]!);
        nameLen[inoOf[wh]!] = names.lastLength;
        edge++;
      }
      whCount[ino] = edge - whStart[ino]!;
      sortRun(edgeSorted, whStart[ino]!, edgeNames, names.surrogates);
      edgeNames.length = 0;
      names.surrogates = false;
    }

    const distinct: number[] = [];
    const seen = new Set<string>();
    for (let c = 0; c < chunks.length; c++) {
      const digest = chunks.chunkDigest[c]!;
      if (cOwner[c] === 0 || seen.has(digest)) continue;
      seen.add(digest);
      distinct.push(c);
    }

    const tree = new PackedTree({
      count: order.length,
      fileBytes,
      sharesMembers,
      type, flags, mode, uid, gid, user, group, size, mtime, nlink, parent, nameAt, nameLen, digestAt,
      chunkStart, chunkCount, childStart, childCount, whStart, whCount,
      edgeIno, edgeNameAt, edgeNameLen, edgeSorted,
      cOffset: chunks.offset,
      cCompressed: chunks.compressedSize,
      cInner: chunks.innerOffset,
      cFileOffset: chunks.chunkOffset,
      cSize: chunks.chunkSize,
      cDigestAt,
      cOwner,
      distinct: Uint32Array.from(distinct),
      distinctDigests: [...seen],
      names: names.finish(),
      digests: digests.finish(),
      owners: [...this.#owners.keys()],
      linkNames,
      devices,
      xattrs,
    });
    return { tree, prefetch: this.#prefetch(chunks) };
  }

  #prefetch(chunks: ChunkTable): PackedPrefetch {
    const landmark = this.#landmark;
    if (!landmark) return { landmark: 'none', files: new Uint32Array(0), endOffset: 0 };
    if (!landmark.prefetch) return { landmark: 'no-prefetch', files: new Uint32Array(0), endOffset: 0 };
    const files: number[] = [];
    let endOffset = 0;
    const data = this.#dataFiles;
    for (let i = 0; i < data.length; i += 2) {
      const index = data[i]!;
      const ino = this.#ino[data[i + 1]!]!;
      // Skip files replaced by a later entry of the same name (no longer in the tree).
      if (index > landmark.index || ino === 0) continue;
      files.push(ino);
      const first = chunks.first[index]!;
      for (let c = first; c < first + chunks.count[index]!; c++) {
        endOffset = Math.max(endOffset, chunks.offset[c]! + chunks.compressedSize[c]!);
      }
    }
    return { landmark: 'prefetch', files: Uint32Array.from(files), endOffset };
  }

  #add(home: number, name: string, type: number, flags: number): number {
    const node = this.#type.length;
    if (node > this.maxNodes) {
      throw new EstargzLimitError('maxEntries', node, this.maxNodes, 'tree node count (entries and the directories they imply)');
    }
    this.#entry.push(-1);
    this.#type.push(type);
    this.#flags.push(flags);
    this.#home.push(home);
    this.#name.push(name);
    this.#user.push(0);
    this.#group.push(0);
    this.#size.push(0);
    this.#mtime.push(0n);
    this.#children.push(type === DIR && (flags & FLAG_WHITEOUT) === 0 ? new Map() : undefined);
    this.#whiteouts.push(undefined);
    return node;
  }

  /**
   * The directory at clean `path`, made (implied) with its parents when missing. A cache miss
   * walks down from the root by the components (cost: the path's length, whatever its depth)
   * and caches the path itself, not every prefix.
   */
  #ensureDir(path: string, index: number): number {
    const known = this.#dirs.get(path);
    if (known !== undefined && (this.#flags[known]! & FLAG_DEAD) === 0) return known;
    let dir = ROOT;
    let start = 0;
    for (;;) {
      const slash = path.indexOf('/', start);
      const base = slash < 0 ? path.slice(start) : path.slice(start, slash);
      const children = this.#children[dir]!;
      let next = children.get(base);
      if (next !== undefined) {
        if (this.#type[next] !== DIR) throw this.#bad(index, `parent ${quote(slash < 0 ? path : path.slice(0, slash))} is not a directory`);
      } else {
        next = this.#add(dir, base, DIR, FLAG_IMPLICIT);
        children.set(base, next);
      }
      dir = next;
      if (slash < 0) break;
      start = slash + 1;
    }
    this.#dirs.set(path, dir);
    return dir;
  }

  /** Marks directory `dir`, replaced by another node, and everything under it dead (each node dies once). */
  #kill(dir: number): void {
    const todo = [dir];
    while (todo.length > 0) {
      const node = todo.pop()!;
      this.#flags[node] = this.#flags[node]! | FLAG_DEAD;
      const children = this.#children[node];
      if (children === undefined) continue;
      for (const child of children.values()) if (this.#type[child] === DIR) todo.push(child);
    }
  }

  /**
   * The node at clean `path` in the finished tree: a node, -1 when there is none, or
   * `LINK_BASE - i` when the name is hard link `i` (a link is never a directory, so a path
   * through one leads nowhere).
   */
  #walk(path: string): number {
    if (path === '') return ROOT;
    let node = ROOT;
    let start = 0;
    for (;;) {
      const slash = path.indexOf('/', start);
      const base = slash < 0 ? path.slice(start) : path.slice(start, slash);
      const link = this.#linkAt.get(node)?.get(base);
      if (link !== undefined) return slash < 0 ? LINK_BASE - link : -1;
      const next = this.#children[node]?.get(base);
      if (next === undefined) return -1;
      if (slash < 0) return next;
      node = next;
      start = slash + 1;
    }
  }

  /** Attributes of entry `e` onto `node` (checked; mode, ids, devices and digests are read from the entry when packing). */
  #apply(node: number, e: TocEntry, index: number): void {
    this.#entry[node] = index;
    this.#user[node] = this.#owner(e.userName || (this.#userNames.get(e.uid ?? 0) ?? ''));
    this.#group[node] = this.#owner(e.groupName || (this.#groupNames.get(e.gid ?? 0) ?? ''));
    this.#mtime[node] = modtimeOf(e);
    let size = e.type === 'reg' ? (e.size ?? 0) : 0;
    if (e.type === 'symlink') {
      if (!e.linkName) throw this.#bad(index, 'symlink without linkName');
      size = Buffer.byteLength(e.linkName);
      if (size > SYMLINK_MAX || e.linkName.includes('\0')) throw this.#bad(index, 'symlink target is too long or holds a NUL byte');
    }
    this.#size[node] = size;
    const xattrs = e.xattrs;
    if (xattrs === undefined) {
      this.#xattrs.delete(node);
      return;
    }
    let map: Map<string, Buffer> | undefined;
    for (const name in xattrs) {
      const bytes = Buffer.from(xattrs[name]!, 'base64');
      if (name === '' || Buffer.byteLength(name) > XATTR_NAME_MAX || name.includes('\0') || bytes.length > XATTR_SIZE_MAX) {
        throw this.#bad(index, `xattr ${quote(name.slice(0, 100))} has a bad name or a value over ${XATTR_SIZE_MAX} bytes`);
      }
      (map ??= new Map()).set(name, bytes);
    }
    if (map === undefined) this.#xattrs.delete(node);
    else this.#xattrs.set(node, map);
  }

  #owner(name: string): number {
    let i = this.#owners.get(name);
    if (i === undefined) this.#owners.set(name, (i = this.#owners.size));
    return i;
  }

  #bad(index: number, problem: string): MalformedEstargzError {
    return new MalformedEstargzError(`entries[${index}] ${quote(this.entries[index]?.name ?? '')}: ${problem}`);
  }
}

interface HardLink {
  /** The directory node holding the link, and its name there. */
  dir: number;
  base: string;
  /** Clean path of its target. */
  target: string;
  /** Its entry. */
  index: number;
}

// States of a hard link while resolving (else: the node it resolved to).
const UNRESOLVED = -1;
const RESOLVING = -2;
/** `#walk` answers `LINK_BASE - i` for hard link `i`. */
const LINK_BASE = -3;

/** A name from the TOC in a message: quoted, at most 200 characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

/** Layers often share a few modification times; parse each distinct string once. */
const modtimes = new Map<string, bigint>();

function modtimeOf(e: TocEntry): bigint {
  if (!e.modtime) return 0n;
  let ns = modtimes.get(e.modtime);
  if (ns === undefined) {
    ns = parseModtime(e.modtime, e.name);
    if (modtimes.size >= 4096) modtimes.clear();
    modtimes.set(e.modtime, ns);
  }
  return ns;
}

/**
 * Positions `start .. start + names.length` of `sorted`, ordered by the UTF-8 bytes of their
 * names (what lookups compare). Without surrogates, UTF-16 order is UTF-8 byte order, so plain
 * string comparison does; with them, bytes are compared.
 */
function sortRun(sorted: Uint32Array, start: number, names: string[], surrogates: boolean): void {
  const count = names.length;
  if (count === 0) return;
  if (count === 1) {
    sorted[start] = start;
    return;
  }
  const order = new Array<number>(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (surrogates) {
    const bytes = names.map((s) => Buffer.from(s, 'utf8'));
    order.sort((a, b) => Buffer.compare(bytes[a]!, bytes[b]!));
  } else {
    order.sort((a, b) => (names[a]! < names[b]! ? -1 : 1)); // names of one directory are distinct
  }
  for (let i = 0; i < count; i++) sorted[start + i] = start + order[i]!;
}

const SURROGATE = /[\ud800-\udfff]/;

/** The UTF-8 bytes of every name, joined; encoded once at the end. */
class NameTable {
  #parts: string[] = [];
  #length = 0;
  /** UTF-8 length of the last name added. */
  lastLength = 0;
  /** Some name added since this was last cleared holds a surrogate (UTF-16 order is not byte order). */
  surrogates = false;

  add(s: string): number {
    const at = this.#length;
    const bytes = Buffer.byteLength(s); // native: a JS char loop costs more while the JIT is cold
    if (bytes !== s.length && SURROGATE.test(s)) this.surrogates = true;
    this.#parts.push(s);
    this.#length += bytes;
    this.lastLength = bytes;
    return at;
  }

  finish(): Buffer {
    const out = Buffer.from(this.#parts.join(''), 'utf8');
    if (out.length !== this.#length) throw new Error(`internal: name table is ${out.length} bytes, want ${this.#length}`);
    return out;
  }
}

/**
 * Raw digest bytes, each prefixed by its length (32, 48, 64: the algorithm). Collected as hex
 * and decoded once at the end: one native call instead of one per digest.
 */
class DigestTable {
  #hex: string[] = [];
  #length = 0;

  /** Appends checked digest `d` (`sha256:<hex>`, `sha384:…`, `sha512:…`); returns its offset. */
  add(d: string): number {
    const hex = d.slice(ALGORITHM_LENGTH + 1);
    const raw = hex.length / 2;
    this.#hex.push(LENGTH_HEX[raw]!, hex);
    const at = this.#length;
    this.#length += raw + 1;
    return at;
  }

  finish(): Buffer {
    const out = Buffer.from(this.#hex.join(''), 'hex');
    if (out.length !== this.#length) throw new Error(`internal: digest table is ${out.length} bytes, want ${this.#length}`);
    return out;
  }
}

/** Every algorithm checked digests may have is 6 characters long. */
const ALGORITHM_LENGTH = 'sha256'.length;
const LENGTH_HEX: Readonly<Record<number, string>> = { 32: '20', 48: '30', 64: '40' };
