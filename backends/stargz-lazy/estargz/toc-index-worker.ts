/**
 * Worker-thread entry of `WorkerIndexer` (toc-index-worker-pool.ts): indexes TOCs with the
 * in-thread indexer and posts the packed index back (plain arrays and maps: structured clone),
 * or the error as data (transferable-error.ts): the caller gets it with its class and message,
 * and nothing is redone in the caller's thread. The pool sends a worker one job at a time, so
 * stopping a worker stops exactly one job.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { inThreadIndexer, type TocIndexRequest } from './toc-indexer.js';
import { toTransferable } from './transferable-error.js';

export interface IndexJob extends Omit<TocIndexRequest, 'signal'> {
  id: number;
}

/** Sent by the pool when the worker has been idle a moment: its heap's garbage goes (a TOC's parse leaves tens of MiB). */
export const COLLECT = 'collect';

/** A full collection of this isolate (`gc` exposed to this thread only). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

if (parentPort) {
  const port = parentPort;
  const collect = collector();
  port.on('message', (job: IndexJob | typeof COLLECT) => {
    if (job === COLLECT) return collect();
    inThreadIndexer.index(job).then(
      ({ digest, index }) => port.postMessage({ id: job.id, ok: true, digest, packed: index.packed() }),
      (err: unknown) => port.postMessage({ id: job.id, ok: false, error: toTransferable(err) }),
    );
  });
}
