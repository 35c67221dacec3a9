import { describe, expect, it } from 'vitest';
import { logLevelFlag, notEmpty, parseCommandLine, secondsFlag, UsageError } from '../../../../core/cli/parse-command-line.js';

const OPTIONS = { name: { type: 'string' }, many: { type: 'string', multiple: true }, on: { type: 'boolean' } } as const;

describe('parseCommandLine: node:util parseArgs, strict, every failure a UsageError', () => {
  it('parses flags and positionals', () => {
    expect(parseCommandLine(['--name', 'x', '--many', 'a', '--many', 'b', '--on', 'pos'], OPTIONS, true)).toEqual({
      values: { name: 'x', many: ['a', 'b'], on: true },
      positionals: ['pos'],
    });
  });

  it.each([
    [['--frob'], true, "Unknown option '--frob'"],
    [['extra'], false, "Unexpected argument 'extra'"],
    [['--name'], false, "Option '--name <value>' argument missing"],
  ])('%j -> UsageError', (argv, positionals, message) => {
    let err: unknown;
    try {
      parseCommandLine(argv, OPTIONS, positionals);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(message);
  });

  it('checks the shared flag values', () => {
    expect(logLevelFlag(undefined)).toBeUndefined();
    expect(logLevelFlag('debug')).toBe('debug');
    expect(() => logLevelFlag('loud')).toThrow(new UsageError('--log-level must be one of fatal, error, warn, info, debug, trace, silent'));
    expect(secondsFlag(undefined, 45)).toBe(45);
    expect(secondsFlag('1.5', 45)).toBe(1.5);
    expect(() => secondsFlag('1.5', 45, true)).toThrow('--timeout must be a whole number of seconds > 0, got "1.5"');
    expect(() => secondsFlag('0', 45)).toThrow('--timeout must be a number of seconds > 0, got "0"');
    expect(() => notEmpty('address', '')).toThrow('--address must not be empty');
    expect(() => notEmpty('address', undefined)).not.toThrow();
  });
});
