/**
 * The `snaphost` command line: finds the subcommand (commands/, one `{ name, usage, options,
 * run }` each), parses its flags (parse-command-line.ts) and runs it. Exit codes: 0 ok, 1 an
 * error (printed as one paragraph; with `--log-level debug` also the stack and causes), 2 bad
 * usage. The process entry is snaphost.ts.
 */
import type { ParseArgsOptionsConfig } from 'node:util';
import { describe } from '../contract/errors.js';
import { LOG_LEVELS } from '../logger.js';
import type { CliIo, Command, CommandArgs } from './command.js';
import { checkContainerdCommand } from './commands/check-containerd.js';
import { checkCommand } from './commands/check.js';
import { containerdConfig } from './commands/containerd-config.js';
import { installUnitCommand } from './commands/install-unit.js';
import { reloadCommand } from './commands/reload.js';
import { serve } from './commands/serve.js';
import { shutdownCommand } from './commands/shutdown.js';
import { statusCommand } from './commands/status.js';
import { testBackendCommand } from './commands/test-backend.js';
import { waitReadyCommand } from './commands/wait-ready.js';
import { logLevelFlag, parseCommandLine, UsageError } from './parse-command-line.js';

export type { CliIo } from './command.js';

/** Every subcommand, in the order of the usage text. */
export const COMMANDS: readonly Command[] = [
  serve,
  checkCommand,
  containerdConfig,
  checkContainerdCommand,
  waitReadyCommand,
  installUnitCommand,
  reloadCommand,
  statusCommand,
  shutdownCommand,
  testBackendCommand(),
] as readonly Command[];

/** What every command takes besides its own flags. */
const COMMON = {
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export const USAGE = `Usage:
${COMMANDS.map((c) => c.usage).join('')}LEVEL: ${LOG_LEVELS.join(', ')}.  snaphost COMMAND --help shows that command's usage.
`;

export async function runCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`snaphost: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  return runCommand(command, rest, io);
}

/** Parse `argv` for `command` and run it, printing its failure the way the command words them. */
export async function runCommand<O extends ParseArgsOptionsConfig>(command: Command<O>, argv: readonly string[], io: CliIo): Promise<number> {
  const named = command.messages === 'named';
  const prefix = named ? `snaphost ${command.name}` : 'snaphost';
  let debug = false;
  try {
    const { values, positionals } = parseCommandLine(argv, { ...command.options, ...COMMON }, command.positionals === true);
    const common = values as { help?: boolean; 'log-level'?: string };
    if (common.help) {
      io.stdout.write(`Usage:\n${command.usage}`);
      return 0;
    }
    const logLevel = logLevelFlag(common['log-level']);
    debug = logLevel === 'debug' || logLevel === 'trace';
    return await command.run({ values, positionals, logLevel } as CommandArgs<O>, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${prefix}: ${err.message}\n\n${named ? `Usage:\n${command.usage}` : USAGE}`);
      return 2;
    }
    io.stderr.write(`${prefix}: ${describe(err)}\n`);
    if (debug) io.stderr.write(`${explain(err)}\n`);
    return 1;
  }
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
