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
import { resolveHardlinks } from './hard-links.js';
import type { EstargzLimits } from './limits.js';
import type { LayerNode } from './layer-node.js';
import { packTree } from './pack-tree.js';
import type { PackedTree } from './packed-tree.js';
import type { Toc } from './toc-schema.js';
import { TreeBuilder } from './tree-builder.js';

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

export function buildTree(toc: Toc, tocOffset: number, limits: EstargzLimits): BuiltTree {
  const chunks = layoutChunks(toc.entries, tocOffset, limits);
  const b = new TreeBuilder(toc.entries, limits.maxEntries);
  b.addEntries();
  resolveHardlinks(b);
  const order = b.numberInodes();
  return { tree: packTree(b, order, chunks), prefetch: prefetchOf(b, chunks) };
}

function prefetchOf(b: TreeBuilder, chunks: ChunkTable): PackedPrefetch {
  const landmark = b.landmark;
  if (!landmark) return { landmark: 'none', files: new Uint32Array(0), endOffset: 0 };
  if (!landmark.prefetch) return { landmark: 'no-prefetch', files: new Uint32Array(0), endOffset: 0 };
  const files: number[] = [];
  let endOffset = 0;
  const data = b.dataFiles;
  for (let i = 0; i < data.length; i += 2) {
    const index = data[i]!;
    const ino = b.ino[data[i + 1]!]!;
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
