/**
 * Worker-thread entry of `WorkerIndexer` (toc-index-worker-pool.ts): indexes TOCs with the
 * in-thread indexer and posts the packed index back (plain arrays and maps: structured clone).
 * A failure is posted as `ok: false` only; the caller repeats the work in its own thread to
 * get the error with its class and message.
 */
import { parentPort } from 'node:worker_threads';
import { inThreadIndexer, type TocIndexRequest } from './toc-indexer.js';

export interface IndexJob extends TocIndexRequest {
  id: number;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: IndexJob) => {
    inThreadIndexer.index(job).then(
      ({ digest, index }) => port.postMessage({ id: job.id, ok: true, digest, packed: index.packed() }),
      () => port.postMessage({ id: job.id, ok: false }),
    );
  });
}
