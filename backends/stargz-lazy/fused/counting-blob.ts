/**
 * A layer blob reader that counts the bytes it received from the registry (footer and TOC,
 * reads, prefetch, background fetch), for the `registryBytes` metric.
 */
import type { LayerBlobReader } from '../layer/remote-layer.js';

export interface ByteCounter {
  registryBytes: number;
}

export function countingBlob(blob: LayerBlobReader, counter: ByteCounter): LayerBlobReader {
  const counted: LayerBlobReader = {
    digest: blob.digest,
    size: (signal) => blob.size(signal),
    readRanges: async (ranges, signal) => {
      const parts = await blob.readRanges(ranges, signal);
      for (const p of parts) counter.registryBytes += p.length;
      return parts;
    },
  };
  if (blob.readTail) {
    const tail = blob.readTail.bind(blob);
    counted.readTail = async (length, signal) => {
      const got = await tail(length, signal);
      counter.registryBytes += got.data.length;
      return got;
    };
  }
  return counted;
}
