/**
 * Ask every running backend for its status at scrape time, in parallel, each bounded by the
 * collect timeout: a status that throws, rejects or is late is a failed report (the backend's
 * `up` is 0), never a failed scrape. A late call's signal is aborted so it can stop working.
 */
import { performance } from 'node:perf_hooks';
import { UnavailableError, describe } from '../errors.js';
import type { SnapshotterStatus } from '../snapshots/snapshotter.js';

export type StatusSource = (signal: AbortSignal) => Promise<SnapshotterStatus>;

export type StatusReport =
  | { backend: string; ok: true; seconds: number; status: unknown }
  | { backend: string; ok: false; seconds: number; error: string };

export function scrapeStatus(sources: Iterable<[string, StatusSource]>, timeoutMs: number): Promise<StatusReport[]> {
  return Promise.all([...sources].map(([backend, source]) => ask(backend, source, timeoutMs)));
}

async function ask(backend: string, source: StatusSource, timeoutMs: number): Promise<StatusReport> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new UnavailableError(`status() did not answer within ${timeoutMs} ms`);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    const status: unknown = await Promise.race([Promise.resolve().then(() => source(controller.signal)), late]);
    return { backend, ok: true, seconds: seconds(), status };
  } catch (err) {
    return { backend, ok: false, seconds: seconds(), error: describe(err) };
  } finally {
    clearTimeout(timer);
  }
}
