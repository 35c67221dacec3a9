/**
 * What `snaphost check` does with each loaded backend (unless `--no-create`): create an
 * instance the way `serve` does (core/backend/create-backend.ts: bounded by the config's
 * `createTimeoutMs`, the instance checked for every method of the contract) in a temporary
 * root under the system's temp directory, never the configured root and never on a socket;
 * then close it, run the definition's `shutdown` on that root (what it keeps running, such as
 * stargz-lazy's FUSE process, stops) and remove the root. Resolves with what went wrong, if
 * anything, naming `backends[i] "name"`.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedBackend, ResolvedConfig } from '../config/resolved-config.js';
import { describe } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { callShutdown } from './call-shutdown.js';
import { closeInstance } from './close-instance.js';
import { createBackend } from './create-backend.js';

export async function tryCreate(b: ResolvedBackend, config: ResolvedConfig, log: Logger): Promise<string | undefined> {
  if (!b.definition) return undefined;
  const label = `backends[${b.index}] "${b.name}"`;
  const root = await realpath(await mkdtemp(join(tmpdir(), 'snaphost-check-')));
  const problems: string[] = [];
  const blog = log.child({ backend: b.name });
  try {
    const instance = await createBackend({ name: b.name, index: b.index, root, definition: b.definition, options: b.options, log: blog, timeoutMs: config.createTimeoutMs });
    await closeInstance(instance, b.name, config.shutdownTimeoutMs).catch((err: unknown) => problems.push(`${label}: close() failed: ${describe(err)}`));
  } catch (err) {
    problems.push(describe(err));
  }
  const shutdown = b.definition.shutdown;
  if (shutdown !== undefined) {
    await callShutdown(shutdown, { name: b.name, root, options: b.options, log: blog, timeoutMs: config.shutdownTimeoutMs }).catch((err: unknown) =>
      problems.push(`${label}: shutdown() on the temporary root failed: ${describe(err)}`),
    );
  }
  await rm(root, { recursive: true, force: true }).catch((err: unknown) => problems.push(`${label}: removing the temporary root ${root} failed: ${describe(err)}`));
  return problems.length > 0 ? problems.join('; ') : undefined;
}
