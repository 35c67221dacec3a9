/**
 * The reader `openLayer` reads the footer and TOC through, over the tail of the blob fetched
 * first: a range inside the tail costs nothing, a range before it one exact request for only
 * what the tail does not hold (joined to the tail's part).
 */
import { registryFailure, type LayerBlobReader } from './fetch-chunks.js';

export function tailReader(
  blob: LayerBlobReader,
  tail: { size: number; data: Buffer },
  signal: AbortSignal | undefined,
): { size: number; read(offset: number, length: number): Promise<Buffer> } {
  const { size } = tail;
  const tailStart = size - tail.data.length;
  return {
    size,
    read: async (offset: number, length: number) => {
      const end = offset + length;
      if (offset >= tailStart && end <= size) return tail.data.subarray(offset - tailStart, end - tailStart);
      const fetchEnd = end > tailStart && end <= size ? tailStart : end;
      let bytes: Buffer;
      try {
        [bytes] = (await blob.readRanges([{ offset, length: fetchEnd - offset }], signal)) as [Buffer];
      } catch (err) {
        throw registryFailure(blob.digest, err, signal);
      }
      return fetchEnd === end ? bytes : Buffer.concat([bytes, tail.data.subarray(0, end - tailStart)]);
    },
  };
}
