/**
 * Gzip members that hold more than one chunk (writers that pack small files together, e.g.
 * `--estargz-min-chunk-size`). Inflating a chunk at `innerOffset` inflates everything before
 * it in the member anyway, so those chunks are verified and cached with it for free: reading
 * a directory of small packed files then costs one fetch per member, not one per file.
 *
 * Found without a map of every member: only a chunk with `innerOffset > 0` can share one, so
 * layers without packing (the upstream writer's default; `LayerIndex.sharesMembers` false) cost
 * nothing.
 */
import type { LayerIndex } from '../estargz/layer-index.js';
import type { WantedChunk } from './fetch-chunks.js';

export class SharedMembers {
  private constructor(readonly members: ReadonlyMap<number, readonly WantedChunk[]>) {}

  static of(index: LayerIndex): SharedMembers {
    // The index knows without building a node per entry.
    if (!index.sharesMembers) return new SharedMembers(new Map());
    const packed = new Set<number>();
    for (const node of index.nodes()) {
      for (const c of node.chunks) if (c.innerOffset > 0) packed.add(c.offset);
    }
    const members = new Map<number, WantedChunk[]>();
    if (packed.size === 0) return new SharedMembers(members);
    for (const node of index.nodes()) {
      for (const chunk of node.chunks) {
        if (!packed.has(chunk.offset)) continue;
        let list = members.get(chunk.offset);
        if (!list) members.set(chunk.offset, (list = []));
        list.push({ chunk, path: node.path });
      }
    }
    for (const list of members.values()) list.sort((a, b) => a.chunk.innerOffset - b.chunk.innerOffset);
    return new SharedMembers(members);
  }

  /** Chunks of the member at `offset` that lie before `end` (decompressed) and are not in `have`. */
  before(offset: number, end: number, have: ReadonlySet<string>): WantedChunk[] {
    const list = this.members.get(offset);
    if (!list) return [];
    const out: WantedChunk[] = [];
    for (const w of list) {
      if (w.chunk.innerOffset + w.chunk.chunkSize > end) break;
      if (!have.has(w.chunk.chunkDigest)) out.push(w);
    }
    return out;
  }
}
