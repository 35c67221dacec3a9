/**
 * The reload algorithm (`snaphost reload`, SIGHUP). The new config is loaded and validated
 * whole; when it is invalid nothing changes. Otherwise, by instance name (diff-config.ts):
 * removed and changed backends are drained and stopped, then changed and added ones (and
 * ones that had failed) start; a log-level change is applied to the running instance;
 * unchanged backends are not touched at all: their servers, sockets and calls in flight go on.
 * The daemon (core/daemon.ts) serializes reloads and refuses one while it stops.
 */
import { chmod } from 'node:fs/promises';
import { markFailed, newSlot, type BackendSlot } from '../backend/backend-slot.js';
import { startBackend, stopBackend, type StartBackendOptions } from '../backend/run-backend.js';
import { loadFailures } from '../config/resolve-config.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { ConfigError, describe } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { diffConfig } from './diff-config.js';
import { formatReloadResult, rejectedReload, type ReloadResult } from './reload-result.js';

/** What a reload changes: the config being served and its slots (replaced when it is accepted). */
export interface DaemonState {
  config: ResolvedConfig;
  slots: BackendSlot[];
}

/** Load a new config with `load` and apply it to `state`. Never throws: a rejected config is a result with `rejected`. */
export async function reloadDaemon(state: DaemonState, load: () => Promise<ResolvedConfig>, opts: StartBackendOptions): Promise<ReloadResult> {
  const { log } = opts;
  let next: ResolvedConfig;
  try {
    next = await load();
    const { fatal } = loadFailures(next);
    if (fatal.length > 0) throw new ConfigError(fatal.map((b) => ({ path: `backends[${b.index}].use`, message: describe(b.error) })), next.file);
  } catch (err) {
    log.error({ err }, 'reload rejected; the running config keeps serving');
    return rejectedReload(describe(err), state.config.file);
  }
  const diff = diffConfig(state.config, next);
  const old = new Map(state.slots.map((s) => [s.backend.name, s]));
  const restart = diff.changed.filter((c) => c.restart);
  // Kept backends that are not serving (one that failed to start) get another try.
  const retry = [...diff.unchanged, ...diff.changed.filter((c) => !c.restart).map((c) => c.after)].filter((b) => !old.get(b.name)!.running);
  const toStop = [...diff.removed, ...restart.map((c) => c.before)].flatMap((b) => old.get(b.name)?.running ?? []);
  log.info(
    {
      added: diff.added.map((b) => b.name),
      removed: diff.removed.map((b) => b.name),
      restart: restart.map((c) => ({ backend: c.after.name, fields: c.fields })),
      unchanged: diff.unchanged.map((b) => b.name),
    },
    'reloading',
  );
  await Promise.all(toStop.map((r) => stopBackend(r, next.shutdownTimeoutMs)));

  applySettings(state.slots, next, diff.settings, log);
  for (const c of diff.changed.filter((c) => !c.restart)) {
    const slot = old.get(c.after.name)!;
    if (slot.running) slot.running.log.level = c.after.logLevel;
    slot.backend = c.after;
  }
  const slots = next.backends.map((b) => {
    const keep = old.get(b.name);
    const fresh = !keep || restart.some((c) => c.after.name === b.name) || retry.includes(b);
    if (!fresh) {
      keep.backend = b;
      return keep;
    }
    return newSlot(b);
  });
  const starting = slots.filter((s) => s.status.state === 'starting');
  const results = await Promise.allSettled(starting.map((s) => startBackend(next, s.backend, s.status, opts)));
  const failed: ReloadResult['failed'] = [];
  results.forEach((r, i) => {
    const slot = starting[i]!;
    if (r.status === 'fulfilled') slot.running = r.value;
    else {
      markFailed(slot, r.reason, log);
      failed.push({ name: slot.backend.name, error: describe(r.reason) });
    }
  });
  state.slots = slots;
  state.config = next;
  const result: ReloadResult = {
    ok: failed.every((f) => slots.find((s) => s.backend.name === f.name)!.backend.optional),
    config: next.file,
    added: diff.added.map((b) => b.name),
    removed: diff.removed.map((b) => b.name),
    restarted: [...restart.map((c) => ({ name: c.after.name, fields: c.fields })), ...retry.map((b) => ({ name: b.name, fields: ['failed before'] }))],
    updated: diff.changed.filter((c) => !c.restart && !retry.includes(c.after)).map((c) => ({ name: c.after.name, fields: c.fields })),
    unchanged: diff.unchanged.filter((b) => !retry.includes(b)).map((b) => b.name),
    settings: diff.settings,
    failed,
  };
  (result.ok ? log.info.bind(log) : log.error.bind(log))({ reload: result }, formatReloadResult(result)[0]!);
  return result;
}

/** Daemon-level fields that can change under a running daemon (see diff-config.ts). */
function applySettings(slots: readonly BackendSlot[], next: ResolvedConfig, settings: ReturnType<typeof diffConfig>['settings'], log: Logger): void {
  for (const s of settings) {
    if (s.apply !== 'live') {
      log.warn({ field: s.field, before: s.before, after: s.after }, `${s.field} changed; it takes effect when the daemon restarts`);
      continue;
    }
    if (s.field === 'logLevel') log.level = next.logLevel;
    if (s.field === 'socketMode') {
      for (const slot of slots) {
        if (!slot.running) continue;
        chmod(slot.running.server.socket, next.socketMode).catch((err: unknown) => slot.running?.log.error({ err }, 'applying the new socketMode failed'));
      }
    }
  }
}
