/**
 * The shape of every `snaphost` subcommand: a definition object the CLI (run-cli.ts) parses
 * the command line for (node:util `parseArgs`, strict, through parse-command-line.ts) and
 * then runs. Every command also takes `--log-level LEVEL` and `--help` (which prints its
 * `usage`); the CLI adds both.
 */
import type { parseArgs, ParseArgsOptionsConfig } from 'node:util';
import type { LogLevel } from '../logger.js';

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  cwd: string;
}

/** The flags a command gets, typed from its `options` as `parseArgs` types them. */
export type CommandValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>['values'];

export interface CommandArgs<O extends ParseArgsOptionsConfig> {
  values: CommandValues<O>;
  /** Positional arguments (empty unless the command takes them: `positionals: true`). */
  positionals: string[];
  /** `--log-level`, checked against LOG_LEVELS. */
  logLevel?: LogLevel;
}

export interface Command<O extends ParseArgsOptionsConfig = ParseArgsOptionsConfig> {
  name: string;
  /** Its lines of the usage text (`snaphost --help` prints every command's; `snaphost NAME --help` this one). */
  usage: string;
  /** Its flags (`--log-level` and `--help` are added by the CLI). */
  options: O;
  /** Takes positional arguments (checked by `run`); otherwise one is a usage error. */
  positionals?: boolean;
  /**
   * How its failures read, as they always have: `snaphost: …`, with the whole usage text after
   * a usage error (the default); or `named`: `snaphost NAME: …`, with only this command's usage
   * (the admin commands and test-backend).
   */
  messages?: 'named';
  /** Exit code: 0 ok, 1 failure. A UsageError (parse-command-line.ts) is exit 2. */
  run(args: CommandArgs<O>, io: CliIo): Promise<number> | number;
}

/** Identity, for the types: `options` typed once, `run`'s `values` follow. */
export function defineCommand<const O extends ParseArgsOptionsConfig>(command: Command<O>): Command<O> {
  return command;
}
