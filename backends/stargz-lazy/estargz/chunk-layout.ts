/**
 * Chunks of regular files from the TOC, checked so that nothing read later can go out of
 * bounds: a `reg` entry and the `chunk` entries after it cover [0, size) exactly, every chunk
 * has a digest, every member lies inside the blob before the TOC, and (offset, innerOffset)
 * grows strictly through the TOC, as writers lay data out. A member's compressed size is the
 * distance to the next distinct data offset (or to the TOC).
 *
 * The chunks land in flat arrays in TOC order, which is therefore blob order; a file's chunks
 * are one contiguous run (`first[entry]`, `count[entry]`). No object per chunk.
 */
import { EstargzLimitError, MalformedEstargzError } from './errors.js';
import type { EstargzLimits } from './limits.js';
import type { TocEntry } from './toc-schema.js';

export interface ChunkTable {
  /** Number of chunks. */
  readonly length: number;
  readonly offset: Float64Array;
  readonly compressedSize: Float64Array;
  readonly innerOffset: Float64Array;
  readonly chunkOffset: Float64Array;
  readonly chunkSize: Float64Array;
  /** The digest strings of the TOC entries themselves (no copies). */
  readonly chunkDigest: readonly string[];
  /** By entry index: the first chunk of a non-empty `reg` entry (its count in `count`). */
  readonly first: Uint32Array;
  readonly count: Uint32Array;
}

/** The checked chunks of every non-empty `reg` entry. */
export function layoutChunks(entries: readonly TocEntry[], tocOffset: number, limits: EstargzLimits): ChunkTable {
  let cap = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.type === 'chunk' || (e.type === 'reg' && e.size)) cap++;
  }
  const offset = new Float64Array(cap);
  const compressedSize = new Float64Array(cap);
  const innerOffset = new Float64Array(cap);
  const chunkOffset = new Float64Array(cap);
  const chunkSize = new Float64Array(cap);
  const chunkDigest: string[] = new Array<string>(cap);
  const first = new Uint32Array(entries.length);
  const count = new Uint32Array(entries.length);
  let n = 0;
  let file = -1; // entry index of the file being covered
  let size = 0;
  let covered = 0;

  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.type !== 'chunk') {
      if (file >= 0 && covered !== size) throw bad(file, entries, `chunks cover ${covered} of ${size} bytes`);
      file = -1;
      if (e.type !== 'reg' || !e.size) continue;
      file = i;
      size = e.size;
      covered = 0;
      first[i] = n;
    } else if (file < 0) {
      throw bad(i, entries, 'a chunk entry must follow a non-empty reg entry or another chunk');
    }
    const at = e.chunkOffset ?? 0;
    if (at !== covered) throw bad(i, entries, `chunkOffset is ${at}, want ${covered} (chunks must be contiguous)`);
    const rest = size - at;
    const length = e.chunkSize || rest; // 0 or absent: up to the end of the file
    if (length > rest) throw bad(i, entries, `chunk [${at}, +${length}) exceeds the file size ${size}`);
    // A whole-file reg entry may carry only the file digest: that is the chunk's digest then.
    const digest = e.chunkDigest ?? (e.type === 'reg' && length === size ? e.digest : undefined);
    if (digest === undefined) throw bad(i, entries, 'has no chunkDigest, so its data cannot be verified');
    const off = e.offset ?? 0;
    if (off >= tocOffset) throw bad(i, entries, `data offset ${off} is not before the TOC at ${tocOffset}`);
    const inner = e.innerOffset ?? 0;
    if (inner + length > limits.maxChunkBytes) {
      throw new EstargzLimitError('maxChunkBytes', inner + length, limits.maxChunkBytes, `entry ${i}: bytes to inflate for one chunk`);
    }
    if (n > 0 && (off < offset[n - 1]! || (off === offset[n - 1]! && inner < innerOffset[n - 1]! + chunkSize[n - 1]!))) {
      throw bad(i, entries, `data at offset ${off}+${inner} overlaps or precedes the previous data at ${offset[n - 1]}+${innerOffset[n - 1]}`);
    }
    offset[n] = off;
    innerOffset[n] = inner;
    chunkOffset[n] = at;
    chunkSize[n] = length;
    chunkDigest[n] = digest;
    n++;
    count[file] = count[file]! + 1;
    covered += length;
  }
  if (file >= 0 && covered !== size) throw bad(file, entries, `chunks cover ${covered} of ${size} bytes`);

  // Compressed extents: each member runs to the next distinct offset (or the TOC).
  let end = tocOffset;
  for (let i = n - 1; i >= 0; i--) {
    const c = end - offset[i]!;
    compressedSize[i] = c;
    if (c > limits.maxChunkCompressedBytes) {
      throw new EstargzLimitError('maxChunkCompressedBytes', c, limits.maxChunkCompressedBytes, `gzip member at ${offset[i]}: compressed size`);
    }
    if (i > 0 && offset[i - 1] !== offset[i]) end = offset[i]!;
  }
  return { length: n, offset, compressedSize, innerOffset, chunkOffset, chunkSize, chunkDigest, first, count };
}

function bad(index: number, entries: readonly TocEntry[], problem: string): MalformedEstargzError {
  const name = entries[index]?.name ?? '';
  return new MalformedEstargzError(`entries[${index}] ${JSON.stringify(name.slice(0, 200))}: ${problem}`);
}
