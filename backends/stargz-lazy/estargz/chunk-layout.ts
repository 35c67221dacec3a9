/**
 * Chunks of regular files from the TOC, checked so that nothing read later can go out of
 * bounds: a `reg` entry and the `chunk` entries after it cover [0, size) exactly, every chunk
 * has a digest, every member lies inside the blob before the TOC, and (offset, innerOffset)
 * grows strictly through the TOC, as writers lay data out. A member's compressed size is the
 * distance to the next distinct data offset (or to the TOC).
 */
import { EstargzLimitError, MalformedEstargzError } from './errors.js';
import type { EstargzLimits } from './limits.js';
import type { ChunkRef } from './layer-node.js';
import type { TocEntry } from './toc-schema.js';

type MutableChunk = { -readonly [K in keyof ChunkRef]: ChunkRef[K] };

/** Chunks of each non-empty `reg` entry, by the entry's index in `entries`. */
export function layoutChunks(
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

function bad(index: number, entries: readonly TocEntry[], problem: string): MalformedEstargzError {
  const name = entries[index]?.name ?? '';
  return new MalformedEstargzError(`entries[${index}] ${JSON.stringify(name.slice(0, 200))}: ${problem}`);
}
