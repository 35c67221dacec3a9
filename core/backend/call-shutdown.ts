/** Calls a definition's `shutdown` in the backend's scope, bounded by `timeoutMs` (the context's signal aborts then). */
import type { BackendDefinition } from '../contract/define-backend.js';
import type { Logger } from '../logger.js';
import { NO_REGISTRY_CREDENTIALS } from '../contract/registry-credentials.js';
import { inBackend } from './backend-scope.js';

export interface CallShutdownOptions {
  name: string;
  root: string;
  /** The validated options. */
  options: unknown;
  log: Logger;
  timeoutMs: number;
}

/** What `shutdown` resolved to (a description, by the contract); rejects when it throws or does not finish in time. */
export function callShutdown(shutdown: NonNullable<BackendDefinition['shutdown']>, o: CallShutdownOptions): Promise<unknown> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const ctx = { name: o.name, root: o.root, log: o.log, signal: timeout, registryCredentials: NO_REGISTRY_CREDENTIALS };
  return inBackend(o.name, () =>
    Promise.race([
      Promise.resolve().then(() => shutdown(o.options, ctx)),
      new Promise<never>((_, reject) => timeout.addEventListener('abort', () => reject(new Error(`shutdown() did not finish within ${o.timeoutMs} ms`)), { once: true })),
    ]),
  );
}
