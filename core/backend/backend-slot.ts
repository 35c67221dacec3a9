/**
 * One configured backend as the daemon holds it: its entry, its status, and the running
 * instance when it serves. The daemon (core/daemon.ts) keeps one per entry of the config; a
 * reload (core/reload/reload-daemon.ts) keeps, replaces or adds them.
 */
import type { ResolvedBackend } from '../config/resolved-config.js';
import { describe } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import type { BackendStatus, RunningBackend } from './run-backend.js';

export interface BackendSlot {
  backend: ResolvedBackend;
  status: BackendStatus;
  running?: RunningBackend;
}

/** A slot for an entry about to start (state `starting`). */
export function newSlot(b: ResolvedBackend): BackendSlot {
  return { backend: b, status: { name: b.name, use: b.use, socket: b.socket, root: b.root, optional: b.optional, state: 'starting' } };
}

/** Record why a backend did not start, and log it (an optional one: the others keep serving). */
export function markFailed(slot: BackendSlot, reason: unknown, log: Logger): void {
  const b = slot.backend;
  slot.status.state = 'failed';
  slot.status.error = describe(reason);
  if (b.optional) log.error({ backend: b.name, err: reason }, `optional backend ${b.name} failed to start; the other backends keep serving`);
  else log.error({ backend: b.name, err: reason }, `backend ${b.name} failed to start`);
}
