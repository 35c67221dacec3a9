/**
 * A `LayerReader` that records how long each FUSE read takes into a histogram: the fast
 * (memory) path and the path that waits for the disk cache or the registry alike, failures
 * included (a read that ends in EIO after the deadline is the latency a container saw).
 */
import type { LayerReader } from '../fs/layer-fs.js';
import type { LatencyHistogram } from './latency-histogram.js';

export function timedReader(layer: LayerReader, histogram: LatencyHistogram): LayerReader {
  const timed: LayerReader = {
    get index() {
      return layer.index;
    },
    async read(node, offset, length, signal) {
      const started = process.hrtime.bigint();
      try {
        return await layer.read(node, offset, length, signal);
      } finally {
        histogram.observe(secondsSince(started));
      }
    },
  };
  const cached = layer.readCached?.bind(layer);
  if (cached) {
    timed.readCached = (node, offset, length, target) => {
      const started = process.hrtime.bigint();
      const n = cached(node, offset, length, target);
      // A miss here goes on to `read`, which records the whole wait.
      if (n !== undefined) histogram.observe(secondsSince(started));
      return n;
    };
  }
  // Passthrough asks it at open: no read happens here, nothing to time.
  const completeFile = layer.completeFile?.bind(layer);
  if (completeFile) timed.completeFile = completeFile;
  const want = layer.wantCompleteFiles?.bind(layer);
  if (want) timed.wantCompleteFiles = want;
  return timed;
}

function secondsSince(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}
