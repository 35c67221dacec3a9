/**
 * `snaphost reload | status | shutdown`: the commands an operator runs against a node's
 * daemon. reload and status ask the running daemon on its admin socket; shutdown runs the
 * backends' `shutdown` hooks itself, and refuses while a daemon answers (unless --force).
 * Exit codes: 0 ok, 1 failure or rejection (printed), 2 bad usage.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { describe } from '../contract/errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../logger.js';
import { formatReloadResult } from '../reload/reload-result.js';
import { renderStatus } from '../status/render-status.js';
import { pingDaemon, requestReload, requestStatus } from './admin-client.js';
import { findAdminSocket } from './find-admin-socket.js';
import { shutdownBackends } from './shutdown-backends.js';

export const ADMIN_USAGE = `  snaphost reload [--config FILE | --admin-socket PATH] [--timeout SECONDS]
      Ask the running daemon to re-read its config (as SIGHUP does): added backends start,
      removed ones drain and stop, changed ones restart, the others are not touched. An
      invalid config is rejected whole (exit 1, with every problem) and the old one keeps
      serving. The admin socket is <socketDir>/snaphost-admin.sock of the config.
  snaphost status [--config FILE | --admin-socket PATH] [--json] [--timeout SECONDS]
      Per backend: state, socket, root, snapshot count, disk use and, for lazy backends,
      every remote layer with its fetched percent. --json: the report as JSON.
  snaphost shutdown [--config FILE] [--backend NAME ...] [--force] [--timeout SECONDS]
      The explicit full stop, after the daemon has stopped: run each backend's shutdown
      (stargz-lazy: stop its FUSE-serving process, unmounting its layers). Refused while the
      daemon answers on its admin socket, unless --force.
`;

export type AdminCommand = 'reload' | 'status' | 'shutdown';
export const ADMIN_COMMANDS: readonly AdminCommand[] = ['reload', 'status', 'shutdown'];

const DEFAULT_TIMEOUT_S: Record<AdminCommand, number> = { reload: 600, status: 60, shutdown: 120 };
/** How long "is a daemon running?" may take. */
const PING_TIMEOUT_MS = 3000;

const COMMON = {
  config: { type: 'string' },
  'log-level': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const FLAGS = {
  reload: { ...COMMON, 'admin-socket': { type: 'string' } },
  status: { ...COMMON, 'admin-socket': { type: 'string' }, json: { type: 'boolean' } },
  shutdown: { ...COMMON, backend: { type: 'string', multiple: true }, force: { type: 'boolean' } },
} as const satisfies Record<AdminCommand, ParseArgsConfig['options']>;

interface Flags {
  config?: string;
  'log-level'?: string;
  timeout?: string;
  help?: boolean;
  'admin-socket'?: string;
  json?: boolean;
  backend?: string[];
  force?: boolean;
}

export interface AdminIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  cwd: string;
}

class UsageError extends Error {}

export function isAdminCommand(c: string): c is AdminCommand {
  return (ADMIN_COMMANDS as readonly string[]).includes(c);
}

export async function adminCommand(command: AdminCommand, argv: readonly string[], io: AdminIo): Promise<number> {
  try {
    const flags = parse(command, argv);
    if (flags.help) {
      io.stdout.write(`Usage:\n${ADMIN_USAGE}`);
      return 0;
    }
    const timeoutMs = timeout(flags.timeout, DEFAULT_TIMEOUT_S[command]);
    if (flags.config !== undefined && flags['admin-socket'] !== undefined) throw new UsageError('--config and --admin-socket cannot be combined');
    if (command === 'shutdown') return await shutdown(flags, timeoutMs, io);
    const socket = await findAdminSocket({ adminSocket: flags['admin-socket'], config: flags.config, cwd: io.cwd });
    if (command === 'status') {
      const report = await requestStatus(socket, timeoutMs);
      io.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
      return 0;
    }
    const result = await requestReload(socket, timeoutMs);
    (result.ok ? io.stdout : io.stderr).write(`${formatReloadResult(result).join('\n')}\n`);
    return result.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`snaphost ${command}: ${err.message}\n\nUsage:\n${ADMIN_USAGE}`);
      return 2;
    }
    io.stderr.write(`snaphost ${command}: ${describe(err)}\n`);
    return 1;
  }
}

async function shutdown(flags: Flags, timeoutMs: number, io: AdminIo): Promise<number> {
  const logLevel = flags['log-level'] as LogLevel | undefined;
  const config = await loadConfig(flags.config, io.cwd, { logLevel });
  const socket = await findAdminSocket({ config: config.file, cwd: io.cwd });
  const pid = await pingDaemon(socket, PING_TIMEOUT_MS).catch(() => -1);
  if (pid !== undefined && !flags.force) {
    const who = pid === -1 ? 'something' : `the daemon (pid ${pid})`;
    io.stderr.write(
      `snaphost shutdown: ${who} is answering on ${socket}; stop the daemon first (systemctl stop snaphost), ` +
        `or pass --force to stop its backends' outside processes under it (running containers lose their lazily pulled files)\n`,
    );
    return 1;
  }
  const log = createLogger({ level: config.logLevel });
  const outcomes = await shutdownBackends(config, { names: flags.backend ?? [], force: flags.force === true, log, timeoutMs });
  for (const o of outcomes) (o.outcome === 'failed' ? io.stderr : io.stdout).write(`${o.name}: ${o.outcome === 'failed' ? 'FAILED: ' : ''}${o.message}\n`);
  return outcomes.some((o) => o.outcome === 'failed') ? 1 : 0;
}

function parse(command: AdminCommand, argv: readonly string[]): Flags {
  let values: Flags;
  try {
    values = parseArgs({ args: [...argv], options: FLAGS[command], strict: true, allowPositionals: false }).values as Flags;
  } catch (err) {
    throw new UsageError(describe(err));
  }
  const level = values['log-level'];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  for (const name of values.backend ?? []) if (name === '') throw new UsageError('--backend needs a backend name');
  return values;
}

function timeout(value: string | undefined, fallbackS: number): number {
  if (value === undefined) return fallbackS * 1000;
  const n = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0)) throw new UsageError(`--timeout must be a number of seconds > 0, got "${value}"`);
  return Math.round(n * 1000);
}
