#!/usr/bin/env node
/**
 * The `snaphost` command: serve, check, containerd-config, check-containerd, wait-ready, install-unit, reload,
 * status, shutdown, test-backend. Exit codes: 0 ok, 1 an error
 * (printed as one paragraph; with `--log-level debug` also the stack and causes), 2 bad usage.
 */
// First: refuses an unsupported Node.js before the rest is evaluated.
import './runtime/require-node.js';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ADMIN_USAGE, adminCommand, isAdminCommand } from './admin/admin-commands.js';
import { loadConfig, singleBackendConfig } from './config/load-config.js';
import { OptionArgError, parseOptionArgs } from './config/option-args.js';
import { registerSdkResolution } from './config/register-sdk-resolution.js';
import { loadFailures } from './config/resolve-config.js';
import type { ResolvedConfig } from './config/resolved-config.js';
import { checkContainerd, DEFAULT_CHECK_TIMEOUT_MS, DEFAULT_CONTAINERD_ADDRESS } from './containerd-check/check-containerd.js';
import { findingsExitCode, renderFindings } from './containerd-check/render-findings.js';
import { containerdConfigToml, makesRemoteSnapshots, parseContainerdMajor } from './containerd-config.js';
import { runDaemon } from './cli/run-daemon.js';
import { checkEnvironment } from './runtime/environment-check.js';
import { describe } from './contract/errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from './logger.js';
import { DEFAULT_UNIT_PREFIX, installUnit, nextSteps, runtimeNodeBin, snaphostCommand } from './systemd/install-unit.js';
import { DEFAULT_READY_TIMEOUT_S } from './systemd/unit-file.js';
import { TEST_BACKEND_USAGE, testBackendCommand } from './test-backend/test-backend-command.js';
import { formatWaitReady, notReadyError, waitReady } from './systemd/wait-ready.js';

export const USAGE = `Usage:
  snaphost serve [--config FILE] [--log-level LEVEL]
      Serve every backend of the config (default: plugins.config.{ts,mjs,js,json} in the
      working directory), each on its own containerd proxy-plugin socket.
  snaphost serve --backend NAME --root DIR --socket PATH [--option KEY=VALUE ...] [--log-level LEVEL]
      Serve one backend without a config file. NAME is a built-in name, a package name or a
      file path. --option values: true/false, numbers, JSON ({...}, [...], "..."), else text;
      dotted keys nest (cache.size=1g).
  snaphost check [--config FILE] [--log-level LEVEL]
      Validate the config, load every backend module, validate its options, check the
      machine (root, overlayfs, /dev/fuse, libfuse2, writable directories). Exit 1 on errors.
  snaphost containerd-config [--config FILE] [--containerd 1|2] [--fragment | --cri-snapshotter NAME]
      Print the containerd config for the configured backends: for containerd 1.x (default;
      config version 2) or 2.x (version 3, with [proxy_plugins.NAME.exports] and the transfer
      service's unpack_config), CRI settings as commented choices. --cri-snapshotter NAME:
      the CRI table active, with backend NAME for every pod. --fragment: only the
      [proxy_plugins] tables (2.x: and unpack_config), to merge.
  snaphost check-containerd [--config FILE] [--address SOCK] [--containerd-config FILE]
                            [--timeout-ms N] [--json]
      Ask the RUNNING containerd at SOCK (default ${DEFAULT_CONTAINERD_ADDRESS}) what it
      makes of each backend: proxy plugin missing or not ok, socket not served, no
      unpack_config (2.x; read with \`containerd config dump\` of the running binary and its
      config, or of --containerd-config FILE), CRI settings. Findings per backend (--json: an
      array). The whole check ends within N ms (default ${DEFAULT_CHECK_TIMEOUT_MS}). Exit 1 on any error.
  snaphost wait-ready [--config FILE] [--timeout SECONDS]
      Wait until every backend's socket accepts connections (default ${DEFAULT_READY_TIMEOUT_S} s);
      exit 1 if one does not. systemd's ExecStartPost: readiness before containerd starts.
  snaphost install-unit [--config FILE] [--prefix DIR] [--bin PATH] [--timeout SECONDS]
      Write snaphost.service (default ${DEFAULT_UNIT_PREFIX}) running this install on the
      config, and print what to run next. It does not call systemctl.
${ADMIN_USAGE}${TEST_BACKEND_USAGE}
LEVEL: ${LOG_LEVELS.join(', ')}.  snaphost COMMAND --help shows this text.
`;

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  cwd: string;
}

class UsageError extends Error {}

const COMMON = {
  config: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const OPS = {
  'containerd-config': { ...COMMON, containerd: { type: 'string' }, fragment: { type: 'boolean' }, 'cri-snapshotter': { type: 'string' } },
  'check-containerd': { ...COMMON, address: { type: 'string' }, 'containerd-config': { type: 'string' }, 'timeout-ms': { type: 'string' }, json: { type: 'boolean' } },
  'wait-ready': { ...COMMON, timeout: { type: 'string' } },
  'install-unit': { ...COMMON, prefix: { type: 'string' }, bin: { type: 'string' }, timeout: { type: 'string' } },
} as const satisfies Record<string, ParseArgsConfig['options']>;
type OpsCommand = keyof typeof OPS;
const isOps = (c: string): c is OpsCommand => Object.hasOwn(OPS, c);

const SERVE = {
  ...COMMON,
  backend: { type: 'string' },
  root: { type: 'string' },
  socket: { type: 'string' },
  option: { type: 'string', multiple: true },
} as const satisfies ParseArgsConfig['options'];

export async function runCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  let debug = false;
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? io.stderr : io.stdout).write(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === 'test-backend') return await testBackendCommand(rest, io);
    if (isAdminCommand(command)) return await adminCommand(command, rest, io);
    if (command !== 'serve' && command !== 'check' && !isOps(command)) throw new UsageError(`unknown command "${command}"`);
    const { values } = parseFlags(rest, command === 'serve' ? SERVE : isOps(command) ? OPS[command] : COMMON);
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const logLevel = parseLogLevel(values['log-level']);
    debug = logLevel === 'debug' || logLevel === 'trace';
    const config = await configFromFlags(values, logLevel, io.cwd);
    if (command === 'check') return await check(config, io);
    if (command === 'containerd-config') return containerdConfig(config, values, io);
    if (command === 'check-containerd') return await checkContainerdCommand(config, values, io);
    if (command === 'wait-ready') return await waitReadyCommand(config, values, io);
    if (command === 'install-unit') return await installUnitCommand(config, values, io);
    const reloadConfig = config.file !== undefined ? () => loadConfig(config.file, io.cwd, { logLevel }) : undefined;
    return await runDaemon(config, { log: createLogger({ level: config.logLevel }), reloadConfig });
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`snaphost: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    io.stderr.write(`snaphost: ${describe(err)}\n`);
    if (debug) io.stderr.write(`${explain(err)}\n`);
    return 1;
  }
}

type Flags = { [K in keyof typeof SERVE]?: K extends 'option' ? string[] : K extends 'help' ? boolean : string } & OpsFlags;
type OpsFlags = {
  containerd?: string;
  fragment?: boolean;
  'cri-snapshotter'?: string;
  timeout?: string;
  prefix?: string;
  bin?: string;
  address?: string;
  'containerd-config'?: string;
  'timeout-ms'?: string;
  json?: boolean;
};

function parseFlags(args: string[], options: ParseArgsConfig['options']): { values: Flags } {
  try {
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
    return { values: values as Flags };
  } catch (err) {
    throw new UsageError(describe(err));
  }
}

function parseLogLevel(level: string | undefined): LogLevel | undefined {
  if (level === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

async function configFromFlags(values: Flags, logLevel: LogLevel | undefined, cwd: string): Promise<ResolvedConfig> {
  const single = values.backend !== undefined || values.root !== undefined || values.socket !== undefined || values.option !== undefined;
  if (!single) return loadConfig(values.config, cwd, { logLevel });
  if (values.config !== undefined) throw new UsageError('--config cannot be combined with --backend/--root/--socket/--option');
  const missing = (['backend', 'root', 'socket'] as const).filter((k) => values[k] === undefined || values[k] === '');
  if (missing.length > 0) throw new UsageError(`serve without a config file needs ${missing.map((k) => `--${k}`).join(', ')}`);
  let options: Record<string, unknown>;
  try {
    options = parseOptionArgs(values.option ?? []);
  } catch (err) {
    if (err instanceof OptionArgError) throw new UsageError(err.message);
    throw err;
  }
  return singleBackendConfig({ backend: values.backend!, root: values.root!, socket: values.socket!, options }, cwd, { logLevel });
}

async function check(config: ResolvedConfig, io: CliIo): Promise<number> {
  const out: string[] = [`config: ${config.file ?? '(command line)'}`, 'backends:'];
  let problems = 0;
  for (const b of config.backends) {
    const state = b.error ? (b.optional ? 'optional-failed' : 'FAILED') : 'ok';
    if (state === 'FAILED') problems++;
    out.push(`  ${state.padEnd(16)} ${b.name}  use=${b.use}  socket=${b.socket}  root=${b.root}`);
    if (b.error) out.push(`  ${''.padEnd(16)} reason: ${describe(b.error)}`);
  }
  out.push('environment:');
  for (const c of await checkEnvironment(config)) {
    const state = c.ok ? 'ok' : c.severity === 'error' ? 'FAILED' : 'warning';
    if (state === 'FAILED') problems++;
    out.push(`  ${state.padEnd(16)} ${c.detail}`);
  }
  out.push(problems === 0 ? 'result: ok' : `result: ${problems} problem(s)`);
  io.stdout.write(`${out.join('\n')}\n`);
  return problems === 0 ? 0 : 1;
}

function containerdConfig(config: ResolvedConfig, values: OpsFlags, io: CliIo): number {
  const containerd = values.containerd === undefined ? 1 : parseContainerdMajor(values.containerd);
  if (containerd === undefined) throw new UsageError(`--containerd must be 1 or 2 (the containerd major version), got "${values.containerd}"`);
  const criSnapshotter = values['cri-snapshotter'];
  if (criSnapshotter !== undefined) {
    if (values.fragment === true) throw new UsageError('--cri-snapshotter cannot be combined with --fragment (a fragment has no CRI table)');
    const names = config.backends.map((b) => b.name);
    if (!names.includes(criSnapshotter)) throw new UsageError(`--cri-snapshotter must name a configured backend (${names.join(', ')}), got "${criSnapshotter}"`);
  }
  if (refuseLoadFailures(config, io)) return 1;
  io.stdout.write(containerdConfigToml(config, { containerd, fragment: values.fragment === true, criSnapshotter }));
  return 0;
}

async function checkContainerdCommand(config: ResolvedConfig, values: OpsFlags, io: CliIo): Promise<number> {
  const address = resolve(io.cwd, values.address ?? DEFAULT_CONTAINERD_ADDRESS);
  if (values.address === '') throw new UsageError('--address must not be empty');
  if (values['containerd-config'] === '') throw new UsageError('--containerd-config must not be empty');
  const raw = values['timeout-ms'];
  const timeoutMs = raw === undefined ? DEFAULT_CHECK_TIMEOUT_MS : /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!(timeoutMs >= 1 && timeoutMs <= 300_000)) throw new UsageError(`--timeout-ms must be a whole number of ms in 1..300000, got "${raw}"`);
  const backends = config.backends.map((b) => ({ name: b.name, socket: b.socket, root: b.root, remoteSnapshots: makesRemoteSnapshots(b) }));
  const findings = await checkContainerd({
    address,
    backends,
    signal: AbortSignal.timeout(timeoutMs),
    callTimeoutMs: timeoutMs,
    ...(values['containerd-config'] !== undefined ? { containerdConfig: resolve(io.cwd, values['containerd-config']) } : {}),
  });
  for (const b of config.backends.filter((x) => x.error)) {
    findings.push({ backend: b.name, severity: 'warning', code: 'backend-not-loaded', message: `its module does not load (${describe(b.error)}): \`snaphost check\` says why` });
  }
  io.stdout.write(values.json ? `${JSON.stringify(findings, null, 2)}\n` : renderFindings(findings, backends.map((b) => b.name), address));
  return findingsExitCode(findings);
}

/** Print why required backends do not load; true when there are any. */
function refuseLoadFailures(config: ResolvedConfig, io: CliIo): boolean {
  const { fatal } = loadFailures(config);
  io.stderr.write(fatal.map((b) => `snaphost: ${describe(b.error)}\n`).join(''));
  return fatal.length > 0;
}

function timeoutFlag(value: string | undefined, wholeSeconds: boolean): number {
  if (value === undefined) return DEFAULT_READY_TIMEOUT_S;
  const n = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0) || (wholeSeconds && !Number.isInteger(n))) throw new UsageError(`--timeout must be ${wholeSeconds ? 'a whole number of seconds' : 'a number of seconds'} > 0, got "${value}"`);
  return n;
}

async function waitReadyCommand(config: ResolvedConfig, values: OpsFlags, io: CliIo): Promise<number> {
  const timeoutMs = Math.round(timeoutFlag(values.timeout, false) * 1000);
  const result = await waitReady(config, { timeoutMs });
  io.stdout.write(`${formatWaitReady(result, timeoutMs).join('\n')}\n`);
  if (result.ok) return 0;
  io.stderr.write(`snaphost: ${describe(notReadyError(result, timeoutMs))}\n`);
  return 1;
}

async function installUnitCommand(config: ResolvedConfig, values: OpsFlags, io: CliIo): Promise<number> {
  const readyTimeoutS = timeoutFlag(values.timeout, true);
  if (values.prefix === '') throw new UsageError('--prefix must not be empty');
  if (refuseLoadFailures(config, io)) return 1;
  const command = await snaphostCommand(values.bin, realpathSync(fileURLToPath(import.meta.url)), io.cwd);
  const unit = await installUnit({ prefix: resolve(io.cwd, values.prefix ?? DEFAULT_UNIT_PREFIX), command, config: config.file!, readyTimeoutS, nodeBin: runtimeNodeBin() });
  io.stdout.write(`${nextSteps(unit, command, config.file!)}\n`);
  return 0;
}

/** Stack and cause chain, for --log-level debug. */
function explain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(depth === 0 ? String((e as Error).stack ?? e) : `caused by: ${String((e as Error).stack ?? describe(e))}`);
    if (!(e instanceof Error)) break;
  }
  return parts.join('\n');
}

function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  registerSdkResolution();
  const code = await runCli(process.argv.slice(2));
  process.exitCode = code;
  // Safety net: exit even if a backend left a handle open (unref: does not keep us alive).
  setTimeout(() => process.exit(code), 5000).unref();
}
