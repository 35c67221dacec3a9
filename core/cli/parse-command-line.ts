/**
 * The one argument parser of the `snaphost` commands: node:util `parseArgs` (strict: an
 * unknown flag or a stray argument is a usage error), and the checks of the flag values the
 * commands share. A UsageError is exit 2 with the usage text; every other error exit 1.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { describe } from '../contract/errors.js';
import { LOG_LEVELS, type LogLevel } from '../logger.js';
import type { CommandValues } from './command.js';

export class UsageError extends Error {}

export function parseCommandLine<O extends ParseArgsOptionsConfig>(argv: readonly string[], options: O, positionals: boolean): { values: CommandValues<O>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: positionals });
    return { values: parsed.values as CommandValues<O>, positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError(describe(err));
  }
}

export function logLevelFlag(level: string | undefined): LogLevel | undefined {
  if (level === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

/** `--timeout SECONDS` (> 0; `whole`: an integer), or `fallbackS` when not given. */
export function secondsFlag(value: string | undefined, fallbackS: number, whole = false): number {
  if (value === undefined) return fallbackS;
  const n = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0) || (whole && !Number.isInteger(n))) throw new UsageError(`--timeout must be ${whole ? 'a whole number of seconds' : 'a number of seconds'} > 0, got "${value}"`);
  return n;
}

/** A flag that, when given, must not be empty. */
export function notEmpty(flag: string, value: string | undefined): void {
  if (value === '') throw new UsageError(`--${flag} must not be empty`);
}
