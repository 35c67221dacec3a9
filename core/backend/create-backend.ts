/**
 * Runs a backend's `create` the way the host promises in the contract: the root directory
 * exists (0700), the context carries a child logger and a signal, a `create` that does not
 * settle in time is a BackendTimeoutError (its signal is aborted, and an instance that shows
 * up late is closed), a `create` that throws is a BackendContractError with the cause, and the
 * instance must have every required method. With `index` (the entry's place in the config)
 * every error names `backends[index] "name"`.
 */
import { mkdir, stat } from 'node:fs/promises';
import { BackendContractError, BackendTimeoutError, describe } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { OPTIONAL_METHODS, REQUIRED_METHODS, type Snapshotter } from '../contract/snapshotter.js';
import { inBackend } from './backend-scope.js';
import { closeInstance } from './close-instance.js';
import type { BackendContext, BackendDefinition } from '../contract/define-backend.js';
import { NO_REGISTRY_CREDENTIALS, type RegistryCredentialSource } from '../contract/registry-credentials.js';

export interface CreateBackendOptions {
  name: string;
  /** Its place in the config's `backends`, for messages (none: test-backend's instance). */
  index?: number;
  root: string;
  definition: BackendDefinition;
  /** Options already validated by the definition's schema. */
  options: unknown;
  /** The backend's child logger (`{ backend: name }` bound). */
  log: Logger;
  timeoutMs: number;
  /** Lifetime signal of the instance (aborted at shutdown); `ctx.signal` follows it. */
  signal?: AbortSignal;
  /** Credentials learned from image pulls (the CRI proxy); none by default. */
  registryCredentials?: RegistryCredentialSource;
}

export async function createBackend(o: CreateBackendOptions): Promise<Snapshotter> {
  await ensureRoot(o);
  const timeout = new AbortController();
  const ctx: BackendContext = {
    name: o.name,
    root: o.root,
    log: o.log,
    signal: o.signal ? AbortSignal.any([o.signal, timeout.signal]) : timeout.signal,
    registryCredentials: o.registryCredentials ?? NO_REGISTRY_CREDENTIALS,
  };
  const created = inBackend(o.name, () => Promise.resolve().then(() => o.definition.create(o.options, ctx)));
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((res) => {
    timer = setTimeout(() => res('timeout'), o.timeoutMs);
  });
  let result: unknown;
  try {
    result = await Promise.race([created, expired]);
  } catch (err) {
    throw new BackendContractError(o.name, `create() failed: ${describe(err)}`, { cause: err, index: o.index });
  } finally {
    clearTimeout(timer);
  }
  if (result === 'timeout') {
    const error = new BackendTimeoutError(o.name, 'create', o.timeoutMs, o.index);
    timeout.abort(error);
    created.then(
      (late) => {
        o.log.warn('create() finished after its timeout; closing the late instance');
        return closeLate(late, o);
      },
      () => undefined,
    );
    throw error;
  }
  await checkInstance(result, o);
  return result as Snapshotter;
}

async function ensureRoot(o: CreateBackendOptions): Promise<void> {
  await mkdir(o.root, { recursive: true, mode: 0o700 });
  const info = await stat(o.root);
  if (!info.isDirectory()) throw new BackendContractError(o.name, `root ${o.root} exists and is not a directory`, { index: o.index });
}

async function checkInstance(instance: unknown, o: CreateBackendOptions): Promise<void> {
  if (typeof instance !== 'object' || instance === null) {
    throw new BackendContractError(o.name, `create() returned ${instance === null ? 'null' : typeof instance}, not a snapshotter object`, { index: o.index });
  }
  const obj = instance as Record<string, unknown>;
  const missing = REQUIRED_METHODS.filter((m) => typeof obj[m] !== 'function');
  const wrong = OPTIONAL_METHODS.filter((m) => obj[m] !== undefined && typeof obj[m] !== 'function');
  if (missing.length === 0 && wrong.length === 0) return;
  const parts = [];
  if (missing.length > 0) parts.push(`missing required method(s): ${missing.join(', ')}`);
  if (wrong.length > 0) parts.push(`not function(s): ${wrong.join(', ')}`);
  await closeLate(instance, o);
  throw new BackendContractError(o.name, `create() returned an instance that is not a snapshotter: ${parts.join('; ')}`, { index: o.index });
}

/** Close an instance the host will not use, logging (not throwing) a failure. */
async function closeLate(instance: unknown, o: CreateBackendOptions): Promise<void> {
  if (typeof instance !== 'object' || instance === null || typeof (instance as Snapshotter).close !== 'function') return;
  try {
    await closeInstance(instance as Snapshotter, o.name, o.timeoutMs);
  } catch (err) {
    o.log.error({ err }, 'closing a rejected instance failed');
  }
}
