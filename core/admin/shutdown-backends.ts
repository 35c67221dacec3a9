/**
 * `snaphost shutdown`: the explicit full stop. For each selected backend whose definition has
 * `shutdown` (core/contract/define-backend.ts), call it with its validated options and a
 * context for its root, bounded in time, and report what it says. A daemon restart never
 * does this: it is what stops what a backend keeps running across restarts (stargz-lazy's
 * FUSE-serving process).
 *
 * Each root is locked while its backend's `shutdown` runs, so a daemon serving it makes that
 * backend fail instead of losing its FUSE server under it; `force` skips the lock (the caller
 * said it knows a daemon is running).
 */
import { stat } from 'node:fs/promises';
import { callShutdown } from '../backend/call-shutdown.js';
import { lockRoot, type RootLock } from '../backend/root-lock.js';
import type { ResolvedBackend, ResolvedConfig } from '../config/resolved-config.js';
import { describe, InvalidArgumentError } from '../contract/errors.js';
import type { Logger } from '../logger.js';

export interface ShutdownOutcome {
  name: string;
  outcome: 'stopped' | 'skipped' | 'failed';
  message: string;
}

export interface ShutdownOptions {
  /** Only these instances (every configured one when empty). */
  names: readonly string[];
  force: boolean;
  log: Logger;
  timeoutMs: number;
}

export async function shutdownBackends(config: ResolvedConfig, o: ShutdownOptions): Promise<ShutdownOutcome[]> {
  const unknown = o.names.filter((n) => !config.backends.some((b) => b.name === n));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`no backend named ${unknown.map((n) => `"${n}"`).join(', ')} in ${config.file ?? 'the config'} (backends: ${config.backends.map((b) => b.name).join(', ')})`);
  }
  const selected = o.names.length === 0 ? config.backends : config.backends.filter((b) => o.names.includes(b.name));
  return Promise.all(selected.map((b) => shutdownOne(b, o)));
}

async function shutdownOne(b: ResolvedBackend, o: ShutdownOptions): Promise<ShutdownOutcome> {
  const out = (outcome: ShutdownOutcome['outcome'], message: string): ShutdownOutcome => ({ name: b.name, outcome, message });
  if (b.error || !b.definition) return out('failed', `cannot load the backend: ${describe(b.error)}`);
  const shutdown = b.definition.shutdown;
  if (shutdown === undefined) return out('skipped', 'nothing to shut down (its definition has no shutdown)');
  if (!(await stat(b.root).catch(() => undefined))?.isDirectory()) return out('skipped', `nothing to shut down (root ${b.root} does not exist)`);
  let lock: RootLock | undefined;
  if (!o.force) {
    try {
      lock = await lockRoot(b.name, b.root);
    } catch (err) {
      return out('failed', describe(err));
    }
  }
  try {
    const said = await callShutdown(shutdown, { name: b.name, root: b.root, options: b.options, log: o.log.child({ backend: b.name }), timeoutMs: o.timeoutMs });
    if (typeof said !== 'string') return out('failed', `shutdown() resolved to ${said === null ? 'null' : typeof said}, expected a description (string)`);
    return out('stopped', said);
  } catch (err) {
    return out('failed', `shutdown() failed: ${describe(err)}`);
  } finally {
    await lock?.release().catch((err: unknown) => o.log.error({ err, backend: b.name }, 'releasing the root lock failed'));
  }
}
