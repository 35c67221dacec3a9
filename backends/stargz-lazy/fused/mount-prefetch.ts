/**
 * The prefetch a mount starts in the background: the files a layer marks as needed first (its
 * `prefetch` landmark), up to the smaller of what the mount asks for and the process's bound.
 * It updates the mount's prefetch state; `stopPrefetch` of the mount ends it (unmount).
 */
import type { Logger } from '../../../core/sdk.js';
import type { FusedConfig } from '../protocol/fused-config.js';
import type { Served, ServedLayer } from './served-layer.js';

export function startPrefetch<L extends ServedLayer>(served: Served<L>, bounds: FusedConfig['prefetch'], log: Logger): void {
  const maxBytes = Math.min(served.request.prefetchBytes ?? 0, bounds.maxBytes);
  if (maxBytes <= 0 || served.layer.index.prefetch.landmark !== 'prefetch') return;
  served.prefetch.state = 'running';
  const started = Date.now();
  served.layer
    .prefetch({ maxBytes, timeoutMs: bounds.timeoutMs, signal: served.stopPrefetch.signal })
    .then(
      (r) => {
        served.prefetch = { state: r.complete ? 'complete' : 'partial', files: r.files, bytes: r.bytes };
        log.info({ ...r, ms: Date.now() - started }, r.complete ? 'prefetch complete' : 'prefetch stopped early');
      },
      (err: unknown) => {
        served.prefetch.state = 'failed';
        if (!served.stopPrefetch.signal.aborted) log.warn({ err }, 'prefetch failed; files are fetched on first read');
      },
    );
}
