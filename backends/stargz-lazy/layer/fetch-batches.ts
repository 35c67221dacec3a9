import type { WantedChunk } from './wanted-chunk.js';

/** `wanted` (blob order) cut into batches of about `maxBytes` compressed bytes, a gzip member never split. */
export function batches(wanted: readonly WantedChunk[], maxBytes: number): WantedChunk[][] {
  const out: WantedChunk[][] = [];
  let current: WantedChunk[] = [];
  let bytes = 0;
  let member = -1;
  for (const w of wanted) {
    if (w.chunk.offset !== member) {
      if (current.length > 0 && bytes + w.chunk.compressedSize > maxBytes) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      member = w.chunk.offset;
      bytes += w.chunk.compressedSize;
    }
    current.push(w);
  }
  if (current.length > 0) out.push(current);
  return out;
}
