/**
 * The gzip members of a layer by blob offset, so that a read that has to fetch a small member
 * can fetch the other members of the same aligned region of the blob with it (one request, no
 * more round trips) and cache them: a directory of small files written next to each other
 * (the usual eStargz order) then costs one GET per region, not one per file.
 *
 * Regions are aligned, as in the Go stargz-snapshotter (whose reader fetches 50,000-byte
 * aligned regions): a cold walk of small files asks for each region once, whichever file of it
 * is read first. A small member belongs to the region it STARTS in, also when it ends in the
 * next one: the request runs to its end (less than one more small member), so the members
 * across region boundaries cost no request of their own (before, they did: about one extra GET
 * per region of a directory of small files). 64 KiB because one request's cost is its round trip, not 64 KiB more or less
 * of transfer, while the waste of a miss (bytes of files never read) stays bounded; a member of
 * 64 KiB or more is a large file's chunk, fetched alone as before.
 *
 * Read from the index's chunk slots (`LayerIndex.chunkSlots()`: the packed tree's own arrays,
 * in blob order): no table of its own, no node object per file.
 */
import type { LayerIndex } from '../estargz/layer-index.js';
import type { WantedChunk } from './wanted-chunk.js';

/** Default size and alignment of a region; a member at least this large is not a small one. */
export const REGION_BYTES = 64 * 1024;
/** Largest region a layer may be configured with (a read must stay a small request). */
export const MAX_REGION_BYTES = 4 * 1024 * 1024;
/**
 * At most this many neighbour members are added to one read's fetch (each is inflated and
 * verified, so this bounds the CPU a read spends on files it did not ask for).
 */
export const MAX_NEIGHBOUR_MEMBERS = 256;
/** At most this many regions' worth of compressed neighbour bytes are added to one read's fetch. */
export const MAX_NEIGHBOUR_REGIONS = 2;
/**
 * A member whose chunks need more decompressed bytes than this (innerOffset + chunkSize) is no
 * small file's, however small it is compressed (a zero-filled file, a gzip bomb): it is not a
 * neighbour, only fetched when read. Bounds the inflation a read spends on files it did not
 * ask for to MAX_NEIGHBOUR_MEMBERS times this, in the background lane of the inflation budget.
 */
export const MAX_NEIGHBOUR_INFLATED_BYTES = 1024 * 1024;

export class RegionNeighbours {
  /** `regionBytes`: size and alignment of the regions (0: no neighbours, ever). */
  constructor(
    private readonly index: LayerIndex,
    private readonly regionBytes: number = REGION_BYTES,
  ) {}

  /**
   * The chunks of the small members that start in the regions of the small members of
   * `missing` (the chunks a read fetches), that are not in `missing` and for which `skip`
   * (cached, being fetched) is false; each digest once, members in blob order, within the caps.
   */
  around(missing: readonly WantedChunk[], skip: (digest: string) => boolean): WantedChunk[] {
    const r = this.regionBytes;
    if (r === 0) return [];
    const regions = new Set<number>();
    for (const w of missing) {
      if (w.chunk.compressedSize < r) regions.add(Math.floor(w.chunk.offset / r) * r);
    }
    if (regions.size === 0) return [];
    const slots = this.index.chunkSlots();
    const taken = new Set(missing.map((w) => w.chunk.chunkDigest));
    const out: WantedChunk[] = [];
    let members = 0;
    let bytes = 0;
    for (const start of [...regions].sort((a, b) => a - b)) {
      const end = start + r;
      for (let i = slots.firstAtOrAfter(start); i < slots.length && slots.offset(i) < end; ) {
        const offset = slots.offset(i);
        const size = slots.compressedSize(i);
        const first = i;
        while (i < slots.length && slots.offset(i) === offset) i++;
        if (size >= r) continue; // a large file's chunk: fetched when read
        const added: WantedChunk[] = [];
        let inflated = 0;
        for (let j = first; j < i; j++) inflated = Math.max(inflated, slots.innerOffset(j) + slots.ref(j).chunkSize);
        if (inflated > MAX_NEIGHBOUR_INFLATED_BYTES) continue;
        for (let j = first; j < i; j++) {
          const ino = slots.owner(j);
          if (ino === 0) continue; // a file a later entry replaced
          const chunk = slots.ref(j);
          if (taken.has(chunk.chunkDigest) || skip(chunk.chunkDigest)) continue;
          taken.add(chunk.chunkDigest);
          added.push({ chunk, path: slots.path(ino) });
        }
        if (added.length === 0) continue;
        if (members + 1 > MAX_NEIGHBOUR_MEMBERS || bytes + size > MAX_NEIGHBOUR_REGIONS * r) return out;
        members++;
        bytes += size;
        out.push(...added);
      }
    }
    return out;
  }
}
