/**
 * One backend's entry of `snaphost status`: its state from the daemon, and for a serving one
 * what core/status/collect-status.ts gathers (snapshot count, disk use, layers, problems).
 */
import { inBackend } from './backend-scope.js';
import type { BackendSlot } from './backend-slot.js';
import { collectStatus } from '../status/collect-status.js';
import type { BackendReport } from '../status/status-report.js';

export async function reportBackend(slot: BackendSlot, signal: AbortSignal | undefined): Promise<BackendReport> {
  const { status, running } = slot;
  const base: BackendReport = { name: status.name, use: status.use, state: status.state, socket: status.socket, root: status.root, optional: status.optional };
  if (status.error !== undefined) base.error = status.error;
  if (!running || status.state !== 'serving') return base;
  const collected = await inBackend(running.backend.name, () =>
    collectStatus({ instance: running.instance, root: running.backend.root, log: running.log, signal, run: (fn) => running.calls.run(fn) }),
  );
  const { metrics: _metrics, problems, ...fields } = collected;
  return { ...base, ...fields, ...(problems.length > 0 ? { problems } : {}) };
}
