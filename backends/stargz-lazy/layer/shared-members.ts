/**
 * Gzip members that hold more than one chunk (writers that pack small files together, e.g.
 * `--estargz-min-chunk-size`). Inflating a chunk at `innerOffset` inflates everything before
 * it in the member anyway, so those chunks are verified and cached with it for free: reading
 * a directory of small packed files then costs one fetch per member, not one per file.
 *
 * Found without a map of every member: only a chunk with `innerOffset > 0` can share one, so
 * layers without packing (the upstream writer's default; `LayerIndex.sharesMembers` false) cost
 * nothing; the others are read from the index's chunk slots (no node object per file).
 */
import type { LayerIndex } from '../estargz/layer-index.js';
import type { WantedChunk } from './wanted-chunk.js';

export class SharedMembers {
  private constructor(readonly members: ReadonlyMap<number, readonly WantedChunk[]>) {}

  static of(index: LayerIndex): SharedMembers {
    // The index knows without looking at every chunk.
    if (!index.sharesMembers) return new SharedMembers(new Map());
    const slots = index.chunkSlots();
    const packed = new Set<number>();
    for (let j = 0; j < slots.length; j++) if (slots.owner(j) !== 0 && slots.innerOffset(j) > 0) packed.add(slots.offset(j));
    const members = new Map<number, WantedChunk[]>();
    for (let j = 0; j < slots.length; j++) {
      const ino = slots.owner(j);
      if (ino === 0 || !packed.has(slots.offset(j))) continue;
      let list = members.get(slots.offset(j));
      if (!list) members.set(slots.offset(j), (list = []));
      list.push({ chunk: slots.ref(j), path: slots.path(ino) });
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
