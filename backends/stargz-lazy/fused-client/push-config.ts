/**
 * Brings a running FUSE-serving process to the snapshotter's configuration
 * (`POST /v1/config`, protocol/config-update.ts) when its status shows another digest: a
 * reload that changed registry, cache, prefetch or background settings reaches a process that
 * survived the daemon, with no unmount. A process that refuses (a field it cannot change live)
 * or is too old to know the request keeps its configuration until it restarts; that is
 * logged, never an error (the layers it serves keep working).
 */
import { FailedPreconditionError, NotFoundError, type Logger } from '../../../core/sdk.js';
import type { ConfigUpdateAnswer } from '../protocol/config-update.js';
import { configDigestOf, type FusedConfig } from '../protocol/fused-config.js';
import { controlRequest } from './control-request.js';

const CONFIG_TIMEOUT_MS = 10_000;

/** The digest the process runs with afterwards. */
export async function pushConfig(socket: string, running: { pid: number; configDigest: string }, config: FusedConfig, log: Logger): Promise<string> {
  const wanted = configDigestOf(config);
  if (running.configDigest === wanted) return wanted;
  const keeps = 'the running FUSE-serving process keeps its configuration; the new one applies when it restarts';
  try {
    const answer = (await controlRequest(socket, 'POST', '/v1/config', { config }, { timeoutMs: CONFIG_TIMEOUT_MS })) as ConfigUpdateAnswer;
    log.info({ pid: running.pid, applied: answer.applied }, 'the running FUSE-serving process took the new configuration (nothing unmounted)');
    return typeof answer.configDigest === 'string' ? answer.configDigest : wanted;
  } catch (err) {
    if (err instanceof FailedPreconditionError) log.warn({ pid: running.pid, reason: err.message }, keeps);
    else if (err instanceof NotFoundError) log.warn({ pid: running.pid }, `${keeps} (it is too old to take a configuration live)`);
    else log.warn({ pid: running.pid, err }, `${keeps} (the change failed)`);
    return running.configDigest;
  }
}
