/**
 * Worker-thread entry of `WorkerIndexer` (toc-index-worker-pool.ts): indexes TOCs with the
 * in-thread indexer and posts the packed index back (plain arrays and maps: structured clone),
 * or the error as data (transferable-error.ts): the caller gets it with its class and message,
 * and nothing is redone in the caller's thread. The pool sends a worker one job at a time, so
 * stopping a worker stops exactly one job.
 */
import { parentPort } from 'node:worker_threads';
import { inThreadIndexer, type TocIndexRequest } from './toc-indexer.js';
import { toTransferable } from './transferable-error.js';

export interface IndexJob extends Omit<TocIndexRequest, 'signal'> {
  id: number;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: IndexJob) => {
    inThreadIndexer.index(job).then(
      ({ digest, index }) => port.postMessage({ id: job.id, ok: true, digest, packed: index.packed() }),
      (err: unknown) => port.postMessage({ id: job.id, ok: false, error: toTransferable(err) }),
    );
  });
}
