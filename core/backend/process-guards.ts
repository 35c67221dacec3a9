/**
 * Keeps one backend's bug from taking the host (and every other backend's socket) down.
 *
 * An uncaught exception or unhandled rejection is logged at `error` with the backend it came
 * from (found through the async scope, see backend-scope.ts) and the daemon keeps serving:
 * containerd sees an INTERNAL error from that backend at worst, while killing the process
 * would fail every snapshotter at once. The log line says plainly that this is a bug and
 * which backend to blame, and counts occurrences so a flapping backend is visible.
 */
import type { Logger } from '../logger.js';
import { currentBackend } from './backend-scope.js';

export interface ProcessGuards {
  /** How many uncaught errors were logged so far, by backend (`(host)` when unknown). */
  readonly counts: ReadonlyMap<string, number>;
  uninstall(): void;
}

export function installProcessGuards(log: Logger): ProcessGuards {
  const counts = new Map<string, number>();
  const report = (kind: 'uncaughtException' | 'unhandledRejection', err: unknown) => {
    const backend = currentBackend();
    const who = backend ?? '(host)';
    const count = (counts.get(who) ?? 0) + 1;
    counts.set(who, count);
    log.error(
      { backend, err, event: kind, count },
      backend
        ? `${kind} in backend ${backend} (a bug in that backend); snaphost keeps serving`
        : `${kind} outside any backend (a bug); snaphost keeps serving`,
    );
  };
  const onException = (err: unknown) => report('uncaughtException', err);
  const onRejection = (reason: unknown) => report('unhandledRejection', reason);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return {
    counts,
    uninstall() {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    },
  };
}
