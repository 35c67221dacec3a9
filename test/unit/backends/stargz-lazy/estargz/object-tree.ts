/**
 * Reference model for the packed index: the object tree that `buildTree` built before it
 * learned to pack in one pass (one `LayerNode` object per file, Maps per directory), kept
 * verbatim so that `packed-tree.test.ts` can check the packed index answers the same for
 * every TOC, or refuses the same TOCs with the same message.
 */
import { EstargzLimitError, MalformedEstargzError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { baseName, normalizeEntryName, parentPath } from '../../../../../backends/stargz-lazy/estargz/entry-name.js';
import type { EstargzLimits } from '../../../../../backends/stargz-lazy/estargz/limits.js';
import type { ChunkRef, LayerNode, NodeType } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { parseModtime } from '../../../../../backends/stargz-lazy/estargz/modtime.js';
import { classifyName, whiteoutTargetProblem } from '../../../../../backends/stargz-lazy/estargz/special-names.js';
import type { Toc, TocEntry } from '../../../../../backends/stargz-lazy/estargz/toc-schema.js';

type MutableNode = { -readonly [K in Exclude<keyof LayerNode, 'children' | 'whiteouts'>]: LayerNode[K] } & {
  children: Map<string, MutableNode>;
  whiteouts: Map<string, MutableNode>;
};

/** The prioritized files of a layer (eStargz landmarks). */
export interface Prefetch {
  /** `prefetch`: files before `.prefetch.landmark`; `no-prefetch`: the layer says none; `none`: no landmark. */
  readonly landmark: 'prefetch' | 'no-prefetch' | 'none';
  /** Non-empty regular files before the landmark, in blob order. */
  readonly files: readonly LayerNode[];
  /** End (exclusive) of the compressed range holding all their chunks: fetch [0, endOffset). 0 when none. */
  readonly endOffset: number;
}

export interface BuiltTree {
  root: LayerNode;
  /** Nodes by `ino - 1`. */
  nodes: LayerNode[];
  prefetch: Prefetch;
}

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const SYMLINK_MAX = 4095;

export function buildTree(toc: Toc, tocOffset: number, limits: EstargzLimits): BuiltTree {
  const entries = toc.entries;
  const chunks = layoutChunks(entries, tocOffset, limits);
  const root = newNode('', 'dir', true);
  const userNames = new Map<number, string>();
  const groupNames = new Map<number, string>();
  const hardlinks: { parent: MutableNode; base: string; target: string; index: number }[] = [];
  const dataFiles: { index: number; node: MutableNode }[] = [];
  let landmark: { index: number; prefetch: boolean } | undefined;

  const ensureDir = (path: string, index: number): MutableNode => {
    if (path === '') return root;
    const parent = ensureDir(parentPath(path), index);
    const base = baseName(path);
    const existing = parent.children.get(base);
    if (existing) {
      if (existing.type !== 'dir') throw bad(index, entries, `parent ${quote(path)} is not a directory`);
      return existing;
    }
    const dir = newNode(path, 'dir', true);
    parent.children.set(base, dir);
    return dir;
  };

  entries.forEach((e, index) => {
    if (e.type === 'chunk') return;
    const path = normalizeEntryName(e.name);
    // userName/groupName appear only on the first entry of each id.
    if (e.userName) userNames.set(e.uid ?? 0, e.userName);
    if (e.groupName) groupNames.set(e.gid ?? 0, e.groupName);
    if (path === '') {
      if (e.type !== 'dir') throw bad(index, entries, `the layer root must be a directory, not ${e.type}`);
      applyAttributes(root, e, index, entries, userNames, groupNames);
      root.implicit = false;
      return;
    }
    const base = baseName(path);
    const special = classifyName(path, base);
    if (special.kind === 'landmark' && e.type === 'reg') {
      landmark ??= { index, prefetch: special.prefetch };
      return;
    }
    const parent = ensureDir(parentPath(path), index);
    if (special.kind === 'opaque') {
      parent.opaque = true;
      return;
    }
    if (special.kind === 'aufs-meta') return;
    if (special.kind === 'whiteout') {
      const problem = whiteoutTargetProblem(special.target);
      if (problem !== undefined) throw bad(index, entries, problem);
      const wh = newNode(path, e.type === 'hardlink' ? 'reg' : e.type, false);
      applyAttributes(wh, e, index, entries, userNames, groupNames);
      wh.size = 0; // no content: overlayfs sees a 0:0 character device
      parent.whiteouts.set(special.target, wh);
      return;
    }
    if (e.type === 'hardlink') {
      if (!e.linkName) throw bad(index, entries, 'hardlink without linkName');
      hardlinks.push({ parent, base, target: normalizeEntryName(e.linkName), index });
      return;
    }
    const existing = parent.children.get(base);
    let node: MutableNode;
    if (existing && existing.type === 'dir' && e.type === 'dir') {
      node = existing;
      node.implicit = false;
    } else {
      node = newNode(path, e.type, false);
      parent.children.set(base, node);
    }
    applyAttributes(node, e, index, entries, userNames, groupNames);
    if (e.type === 'reg') {
      node.chunks = chunks.get(index) ?? [];
      if (node.size > 0) dataFiles.push({ index, node });
    }
  });

  resolveHardlinks(root, hardlinks, entries);
  const nodes = assignInodes(root);
  return { root, nodes, prefetch: prefetchOf(landmark, dataFiles) };
}

/**
 * Shared by every node that has no entries of its own (only directories get their own maps):
 * a layer can hold a million nodes, and three empty Maps each would cost more than the rest of the node.
 */
const NONE = new Map<string, never>();

function newNode(path: string, type: NodeType, implicit: boolean): MutableNode {
  const isDir = type === 'dir';
  return {
    ino: 0,
    path,
    type,
    mode: implicit ? 0o755 : 0,
    uid: 0,
    gid: 0,
    userName: '',
    groupName: '',
    size: 0,
    mtimeNs: 0n,
    linkName: '',
    devMajor: 0,
    devMinor: 0,
    xattrs: NONE,
    nlink: 0,
    digest: undefined,
    chunks: [] as ChunkRef[],
    implicit,
    children: isDir ? new Map() : NONE,
    opaque: false,
    whiteouts: isDir ? new Map() : NONE,
  };
}

function applyAttributes(
  node: MutableNode,
  e: TocEntry,
  index: number,
  entries: readonly TocEntry[],
  userNames: Map<number, string>,
  groupNames: Map<number, string>,
): void {
  node.mode = (e.mode ?? 0) & 0o7777;
  node.uid = e.uid ?? 0;
  node.gid = e.gid ?? 0;
  node.userName = e.userName || (userNames.get(node.uid) ?? '');
  node.groupName = e.groupName || (groupNames.get(node.gid) ?? '');
  node.mtimeNs = modtimeOf(e);
  node.devMajor = e.type === 'char' || e.type === 'block' ? (e.devMajor ?? 0) : 0;
  node.devMinor = e.type === 'char' || e.type === 'block' ? (e.devMinor ?? 0) : 0;
  node.size = e.type === 'reg' ? (e.size ?? 0) : 0;
  node.digest = e.type === 'reg' ? e.digest : undefined;
  if (e.type === 'symlink') {
    if (!e.linkName) throw bad(index, entries, 'symlink without linkName');
    const length = Buffer.byteLength(e.linkName);
    if (length > SYMLINK_MAX || e.linkName.includes('\0')) throw bad(index, entries, 'symlink target is too long or holds a NUL byte');
    node.linkName = e.linkName;
    node.size = length;
  }
  if (!e.xattrs || Object.keys(e.xattrs).length === 0) {
    node.xattrs = NONE;
    return;
  }
  const xattrs = new Map<string, Buffer>();
  for (const [name, value] of Object.entries(e.xattrs)) {
    const bytes = Buffer.from(value, 'base64');
    if (name === '' || Buffer.byteLength(name) > XATTR_NAME_MAX || name.includes('\0') || bytes.length > XATTR_SIZE_MAX) {
      throw bad(index, entries, `xattr ${JSON.stringify(name.slice(0, 100))} has a bad name or a value over ${XATTR_SIZE_MAX} bytes`);
    }
    xattrs.set(name, bytes);
  }
  node.xattrs = xattrs;
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
 * Hard links may point at files or at other hard links, in any order; cycles and dangling
 * targets are refused. A target is looked up in the finished tree, where the last link of a
 * name replaces any other entry of that name. Plain recursion: a model, not for long chains.
 */
function resolveHardlinks(
  root: MutableNode,
  links: { parent: MutableNode; base: string; target: string; index: number }[],
  entries: readonly TocEntry[],
): void {
  const last = new Map<MutableNode, Map<string, number>>();
  links.forEach((l, i) => {
    if (!last.has(l.parent)) last.set(l.parent, new Map());
    last.get(l.parent)!.set(l.base, i);
  });
  const resolved = new Map<number, MutableNode | 'resolving'>();
  const resolve = (i: number): MutableNode => {
    const done = resolved.get(i);
    if (done !== undefined && done !== 'resolving') return done;
    resolved.set(i, 'resolving');
    const link = links[i]!;
    const quoted = quote(link.target);
    let node: MutableNode | undefined = root;
    const parts = link.target === '' ? [] : link.target.split('/');
    for (let p = 0; p < parts.length && node; p++) {
      const j: number | undefined = last.get(node)?.get(parts[p]!);
      if (j !== undefined) {
        if (p < parts.length - 1) node = undefined;
        else if (resolved.get(j) === 'resolving') throw bad(link.index, entries, `hardlink cycle through ${quoted}`);
        else node = resolve(j);
      } else {
        node = node.children.get(parts[p]!);
      }
    }
    if (!node) throw bad(link.index, entries, `hardlink target ${quoted} does not exist`);
    if (node.type === 'dir') throw bad(link.index, entries, `hardlink to directory ${quoted}`);
    resolved.set(i, node);
    return node;
  };
  for (let i = 0; i < links.length; i++) resolve(i);
  for (const [parent, names] of last) for (const [base, i] of names) parent.children.set(base, resolve(i));
}

function assignInodes(root: MutableNode): LayerNode[] {
  const nodes: MutableNode[] = [];
  const visit = (node: MutableNode) => {
    node.nlink++;
    if (node.ino !== 0) return; // another name of a hard-linked file
    nodes.push(node);
    node.ino = nodes.length;
    if (node.type !== 'dir') return;
    node.nlink = 2;
    for (const [name, child] of node.children) {
      node.whiteouts.delete(name); // a real entry wins over a whiteout of the same name
      visit(child);
      if (child.type === 'dir') node.nlink++;
    }
    for (const wh of node.whiteouts.values()) {
      nodes.push(wh);
      wh.ino = nodes.length;
      wh.nlink = 1;
    }
  };
  visit(root);
  return nodes;
}

function prefetchOf(
  landmark: { index: number; prefetch: boolean } | undefined,
  dataFiles: { index: number; node: MutableNode }[],
): Prefetch {
  if (!landmark) return { landmark: 'none', files: [], endOffset: 0 };
  if (!landmark.prefetch) return { landmark: 'no-prefetch', files: [], endOffset: 0 };
  const files: LayerNode[] = [];
  const seen = new Set<LayerNode>();
  let endOffset = 0;
  for (const { index, node } of dataFiles) {
    // Skip files replaced by a later entry of the same name (no longer in the tree).
    if (index > landmark.index || node.ino === 0 || seen.has(node)) continue;
    seen.add(node);
    files.push(node);
    for (const c of node.chunks) endOffset = Math.max(endOffset, c.offset + c.compressedSize);
  }
  return { landmark: 'prefetch', files, endOffset };
}

function bad(index: number, entries: readonly TocEntry[], problem: string): MalformedEstargzError {
  return new MalformedEstargzError(`entries[${index}] ${quote(entries[index]?.name ?? '')}: ${problem}`);
}

function quote(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

type MutableChunk = { -readonly [K in keyof ChunkRef]: ChunkRef[K] };

/** Chunks of each non-empty `reg` entry, by the entry's index in `entries`. */
function layoutChunks(
  entries: readonly TocEntry[],
  tocOffset: number,
  limits: EstargzLimits,
): Map<number, ChunkRef[]> {
  const byEntry = new Map<number, ChunkRef[]>();
  const all: MutableChunk[] = [];
  let file: { index: number; size: number; covered: number; chunks: MutableChunk[] } | undefined;

  const finish = () => {
    if (file && file.covered !== file.size) {
      throw bad(file.index, entries, `chunks cover ${file.covered} of ${file.size} bytes`);
    }
    file = undefined;
  };

  entries.forEach((e, i) => {
    if (e.type !== 'chunk') {
      finish();
      if (e.type !== 'reg' || !e.size) return;
      file = { index: i, size: e.size, covered: 0, chunks: [] };
      byEntry.set(i, file.chunks);
    } else if (!file) {
      throw bad(i, entries, 'a chunk entry must follow a non-empty reg entry or another chunk');
    }
    const chunkOffset = e.chunkOffset ?? 0;
    if (chunkOffset !== file.covered) {
      throw bad(i, entries, `chunkOffset is ${chunkOffset}, want ${file.covered} (chunks must be contiguous)`);
    }
    const rest = file.size - chunkOffset;
    const chunkSize = e.chunkSize || rest; // 0 or absent: up to the end of the file
    if (chunkSize > rest) throw bad(i, entries, `chunk [${chunkOffset}, +${chunkSize}) exceeds the file size ${file.size}`);
    // A whole-file reg entry may carry only the file digest: that is the chunk's digest then.
    const chunkDigest = e.chunkDigest ?? (e.type === 'reg' && chunkSize === file.size ? e.digest : undefined);
    if (chunkDigest === undefined) throw bad(i, entries, 'has no chunkDigest, so its data cannot be verified');
    const offset = e.offset ?? 0;
    if (offset >= tocOffset) throw bad(i, entries, `data offset ${offset} is not before the TOC at ${tocOffset}`);
    const innerOffset = e.innerOffset ?? 0;
    if (innerOffset + chunkSize > limits.maxChunkBytes) {
      throw new EstargzLimitError('maxChunkBytes', innerOffset + chunkSize, limits.maxChunkBytes, `entry ${i}: bytes to inflate for one chunk`);
    }
    const prev = all[all.length - 1];
    if (prev && (offset < prev.offset || (offset === prev.offset && innerOffset < prev.innerOffset + prev.chunkSize))) {
      throw bad(i, entries, `data at offset ${offset}+${innerOffset} overlaps or precedes the previous data at ${prev.offset}+${prev.innerOffset}`);
    }
    const chunk: MutableChunk = { offset, compressedSize: 0, innerOffset, chunkOffset, chunkSize, chunkDigest };
    all.push(chunk);
    file.chunks.push(chunk);
    file.covered += chunkSize;
  });
  finish();

  // Compressed extents: each member runs to the next distinct offset (or the TOC).
  let end = tocOffset;
  for (let i = all.length - 1; i >= 0; i--) {
    const c = all[i]!;
    c.compressedSize = end - c.offset;
    if (c.compressedSize > limits.maxChunkCompressedBytes) {
      throw new EstargzLimitError('maxChunkCompressedBytes', c.compressedSize, limits.maxChunkCompressedBytes, `gzip member at ${c.offset}: compressed size`);
    }
    if (i > 0 && all[i - 1]!.offset !== c.offset) end = c.offset;
  }
  return byEntry;
}

