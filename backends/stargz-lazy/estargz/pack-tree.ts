/**
 * The last step of `buildTree` (build-tree.ts): the numbered build-time nodes -> one
 * `PackedTree` (typed arrays by inode, the directory edges sorted by the UTF-8 bytes of their
 * names, names and digests in one byte table each). One pass over the nodes.
 */
import type { ChunkTable } from './chunk-layout.js';
import { DigestTable } from './digest-table.js';
import { NameTable } from './name-table.js';
import { FLAG_IMPLICIT, FLAG_OPAQUE, NO_DIGEST, PackedTree } from './packed-tree.js';
import { BLOCK, CHAR, DIR, FLAG_WHITEOUT, REG, ROOT, SYMLINK, type TreeBuilder } from './tree-builder.js';

export function packTree(b: TreeBuilder, order: number[], chunks: ChunkTable): PackedTree {
  const entries = b.entries;
  const inoOf = b.ino;
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
    if (b.type[node] !== DIR || (b.flags[node]! & FLAG_WHITEOUT) !== 0) continue;
    edgeTotal += b.children[node]!.size + (b.whiteouts[node]?.size ?? 0);
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
    const index = b.entry[node]!;
    const e = index >= 0 ? entries[index] : undefined;
    const t = b.type[node]!;
    const f = b.flags[node]!;
    type[ino] = t;
    flags[ino] = f & (FLAG_IMPLICIT | FLAG_OPAQUE);
    mode[ino] = e === undefined ? 0o755 : (e.mode ?? 0) & 0o7777;
    uid[ino] = e?.uid ?? 0;
    gid[ino] = e?.gid ?? 0;
    user[ino] = b.user[node]!;
    group[ino] = b.group[node]!;
    size[ino] = b.size[node]!;
    mtime[ino] = b.mtime[node]!;
    nlink[ino] = b.nlink[node]!;
    if (node !== ROOT) parent[ino] = inoOf[b.home[node]!]!;
    const x = b.xattrs.get(node);
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
    for (const [name, child] of b.children[node]!) {
      const at = names.add(name);
      edgeIno[edge] = inoOf[child]!;
      edgeNameAt[edge] = at;
      edgeNameLen[edge] = names.lastLength;
      edgeNames.push(name);
      // The edge that spells the child's own path is its home (hard links are other names).
      if (b.home[child] === node && b.name[child] === name) {
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

    const whiteouts = b.whiteouts[node];
    whStart[ino] = edge;
    if (whiteouts === undefined) continue;
    for (const [target, wh] of whiteouts) {
      edgeIno[edge] = inoOf[wh]!;
      edgeNameAt[edge] = names.add(target);
      edgeNameLen[edge] = names.lastLength;
      edgeNames.push(target);
      nameAt[inoOf[wh]!] = names.add(b.name[wh]!);
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
    owners: [...b.owners.keys()],
    linkNames,
    devices,
    xattrs,
  });
  return tree;
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
