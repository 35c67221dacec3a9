/**
 * The first steps of `buildTree` (build-tree.ts): TOC entries -> build-time nodes in flat
 * per-node arrays (a node is a number; only directories hold Maps, of child name -> node),
 * hard links recorded for `hard-links.ts`, then the depth-first walk that numbers the inodes.
 * `pack-tree.ts` reads the finished arrays; nothing else does.
 */
import { normalizeEntryName } from './entry-name.js';
import { EstargzLimitError, MalformedEstargzError } from './errors.js';
import { parseModtime } from './modtime.js';
import { FLAG_IMPLICIT, FLAG_OPAQUE } from './packed-tree.js';
import { classifyName, whiteoutTargetProblem } from './special-names.js';
import type { TocEntry } from './toc-schema.js';

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const SYMLINK_MAX = 4095;

// Type codes: the index in NODE_TYPES.
export const DIR = 0;
export const REG = 1;
export const SYMLINK = 2;
export const CHAR = 3;
export const BLOCK = 4;
/** A whiteout of type `hardlink` is a plain (empty) file. */
const TYPE_CODE: Readonly<Record<string, number>> = { dir: 0, reg: 1, hardlink: 1, symlink: 2, char: 3, block: 4, fifo: 5 };
/** Build-time only: the node is a whiteout (never listed among children, never has chunks). */
export const FLAG_WHITEOUT = 4;
/** Build-time only: the node was in a directory replaced by another node (unreachable). */
const FLAG_DEAD = 8;
export const ROOT = 0;

export class TreeBuilder {
  // Per node (by build-time id; the root is 0).
  readonly entry: number[] = []; // the entry that gave the attributes; -1: implied
  readonly type: number[] = [];
  readonly flags: number[] = [];
  readonly home: number[] = []; // the directory holding it under its own name; -1 for the root
  readonly name: string[] = []; // its own base name there (`.wh.x` for a whiteout)
  readonly user: number[] = [];
  readonly group: number[] = [];
  readonly size: number[] = [];
  readonly mtime: bigint[] = [];
  readonly children: (Map<string, number> | undefined)[] = [];
  readonly whiteouts: (Map<string, number> | undefined)[] = [];
  readonly xattrs = new Map<number, Map<string, Buffer>>();
  /** Directories by clean path (a cache: a dead one is not there any more). */
  readonly #dirs = new Map<string, number>();
  readonly owners = new Map<string, number>();
  readonly #userNames = new Map<number, string>();
  readonly #groupNames = new Map<number, string>();
  readonly links: HardLink[] = [];
  /** The last hard link of each name, by directory node then name: an index in `links`. */
  readonly linkAt = new Map<number, Map<string, number>>();
  /** Pairs (entry index, node) of the non-empty regular files, in TOC order. */
  readonly dataFiles: number[] = [];
  landmark: { index: number; prefetch: boolean } | undefined;
  ino = new Uint32Array(0);
  nlink = new Uint32Array(0);

  constructor(
    readonly entries: readonly TocEntry[],
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
        if (type !== 'dir') throw this.bad(index, `the layer root must be a directory, not ${type}`);
        this.#apply(ROOT, e, index);
        this.flags[ROOT] = this.flags[ROOT]! & ~FLAG_IMPLICIT;
        continue;
      }
      const slash = path.lastIndexOf('/');
      const base = slash < 0 ? path : path.slice(slash + 1);
      const special = classifyName(path, base);
      if (special.kind === 'landmark' && type === 'reg') {
        this.landmark ??= { index, prefetch: special.prefetch };
        continue;
      }
      const dir = slash < 0 ? ROOT : this.#ensureDir(path.slice(0, slash), index);
      if (special.kind === 'opaque') {
        this.flags[dir] = this.flags[dir]! | FLAG_OPAQUE;
        continue;
      }
      if (special.kind === 'aufs-meta') continue;
      if (special.kind === 'whiteout') {
        const problem = whiteoutTargetProblem(special.target);
        if (problem !== undefined) throw this.bad(index, problem);
        const wh = this.#add(dir, base, TYPE_CODE[type]!, FLAG_WHITEOUT);
        this.#apply(wh, e, index);
        this.size[wh] = 0; // a whiteout is a 0:0 character device to overlayfs: no content, whatever size its entry claims
        let whiteouts = this.whiteouts[dir];
        if (whiteouts === undefined) this.whiteouts[dir] = whiteouts = new Map();
        whiteouts.set(special.target, wh);
        continue;
      }
      if (type === 'hardlink') {
        if (!e.linkName) throw this.bad(index, 'hardlink without linkName');
        let names = this.linkAt.get(dir);
        if (names === undefined) this.linkAt.set(dir, (names = new Map()));
        names.set(base, this.links.length);
        this.links.push({ dir, base, target: normalizeEntryName(e.linkName), index });
        continue;
      }
      const children = this.children[dir]!;
      const existing = children.get(base);
      let node: number;
      if (existing !== undefined && this.type[existing] === DIR && type === 'dir') {
        node = existing;
        this.flags[node] = this.flags[node]! & ~FLAG_IMPLICIT;
      } else {
        if (existing !== undefined && this.type[existing] === DIR) this.#kill(existing); // its subtree is gone
        node = this.#add(dir, base, TYPE_CODE[type]!, 0);
        children.set(base, node);
      }
      this.#apply(node, e, index);
      if (type === 'reg' && this.size[node]! > 0) this.dataFiles.push(index, node);
    }
  }

  /** Depth-first in TOC order: the nodes by inode (`order[ino - 1]`); sets inode numbers and link counts. */
  numberInodes(): number[] {
    const count = this.type.length;
    const ino = (this.ino = new Uint32Array(count));
    const nlink = (this.nlink = new Uint32Array(count));
    const order: number[] = [];
    const visit = (node: number) => {
      nlink[node]!++;
      if (ino[node] !== 0) return; // another name of a hard-linked file
      order.push(node);
      ino[node] = order.length;
      if (this.type[node] !== DIR) return;
      nlink[node] = 2;
      const whiteouts = this.whiteouts[node];
      for (const [name, child] of this.children[node]!) {
        whiteouts?.delete(name); // a real entry wins over a whiteout of the same name
        visit(child);
        if (this.type[child] === DIR) nlink[node]!++;
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

  #add(home: number, name: string, type: number, flags: number): number {
    const node = this.type.length;
    if (node > this.maxNodes) {
      throw new EstargzLimitError('maxEntries', node, this.maxNodes, 'tree node count (entries and the directories they imply)');
    }
    this.entry.push(-1);
    this.type.push(type);
    this.flags.push(flags);
    this.home.push(home);
    this.name.push(name);
    this.user.push(0);
    this.group.push(0);
    this.size.push(0);
    this.mtime.push(0n);
    this.children.push(type === DIR && (flags & FLAG_WHITEOUT) === 0 ? new Map() : undefined);
    this.whiteouts.push(undefined);
    return node;
  }

  /**
   * The directory at clean `path`, made (implied) with its parents when missing. A cache miss
   * walks down from the root by the components (cost: the path's length, whatever its depth)
   * and caches the path itself, not every prefix.
   */
  #ensureDir(path: string, index: number): number {
    const known = this.#dirs.get(path);
    if (known !== undefined && (this.flags[known]! & FLAG_DEAD) === 0) return known;
    let dir = ROOT;
    let start = 0;
    for (;;) {
      const slash = path.indexOf('/', start);
      const base = slash < 0 ? path.slice(start) : path.slice(start, slash);
      const children = this.children[dir]!;
      let next = children.get(base);
      if (next !== undefined) {
        if (this.type[next] !== DIR) throw this.bad(index, `parent ${quote(slash < 0 ? path : path.slice(0, slash))} is not a directory`);
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
      this.flags[node] = this.flags[node]! | FLAG_DEAD;
      const children = this.children[node];
      if (children === undefined) continue;
      for (const child of children.values()) if (this.type[child] === DIR) todo.push(child);
    }
  }

  /** Attributes of entry `e` onto `node` (checked; mode, ids, devices and digests are read from the entry when packing). */
  #apply(node: number, e: TocEntry, index: number): void {
    this.entry[node] = index;
    this.user[node] = this.#owner(e.userName || (this.#userNames.get(e.uid ?? 0) ?? ''));
    this.group[node] = this.#owner(e.groupName || (this.#groupNames.get(e.gid ?? 0) ?? ''));
    this.mtime[node] = modtimeOf(e);
    let size = e.type === 'reg' ? (e.size ?? 0) : 0;
    if (e.type === 'symlink') {
      if (!e.linkName) throw this.bad(index, 'symlink without linkName');
      size = Buffer.byteLength(e.linkName);
      if (size > SYMLINK_MAX || e.linkName.includes('\0')) throw this.bad(index, 'symlink target is too long or holds a NUL byte');
    }
    this.size[node] = size;
    const xattrs = e.xattrs;
    if (xattrs === undefined) {
      this.xattrs.delete(node);
      return;
    }
    let map: Map<string, Buffer> | undefined;
    for (const name in xattrs) {
      const bytes = Buffer.from(xattrs[name]!, 'base64');
      if (name === '' || Buffer.byteLength(name) > XATTR_NAME_MAX || name.includes('\0') || bytes.length > XATTR_SIZE_MAX) {
        throw this.bad(index, `xattr ${quote(name.slice(0, 100))} has a bad name or a value over ${XATTR_SIZE_MAX} bytes`);
      }
      (map ??= new Map()).set(name, bytes);
    }
    if (map === undefined) this.xattrs.delete(node);
    else this.xattrs.set(node, map);
  }

  #owner(name: string): number {
    let i = this.owners.get(name);
    if (i === undefined) this.owners.set(name, (i = this.owners.size));
    return i;
  }

  /** The error for entry `index` of the TOC (`hard-links.ts` raises it too). */
  bad(index: number, problem: string): MalformedEstargzError {
    return new MalformedEstargzError(`entries[${index}] ${quote(this.entries[index]?.name ?? '')}: ${problem}`);
  }
}

export interface HardLink {
  /** The directory node holding the link, and its name there. */
  dir: number;
  base: string;
  /** Clean path of its target. */
  target: string;
  /** Its entry. */
  index: number;
}

/** A name from the TOC in a message: quoted, at most 200 characters. */
export function quote(name: string): string {
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
