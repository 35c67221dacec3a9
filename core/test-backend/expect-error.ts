/**
 * Assertions of the contract checks: a call must throw the SDK error class for a code (matched
 * by `code`, so a backend with its own copy of snaphost passes too), and plain equality with
 * a message that says what differed.
 */
import { isDeepStrictEqual, inspect } from 'node:util';
import { describe, isSnaphostError, type ErrorCode } from '../contract/errors.js';
import { errorClassOf } from '../grpc/status.js';

/** A contract check found the backend wrong; the message says how. */
export class CheckFailure extends Error {}

/** Runs `fn`; it must throw an SDK error with `code` (or one of `code`). Returns that error. */
export async function expectCode(what: string, code: ErrorCode | readonly ErrorCode[], fn: () => unknown): Promise<Error> {
  const codes: readonly ErrorCode[] = typeof code === 'string' ? [code] : code;
  const wanted = codes.map((c) => `${errorClassOf(c)?.name ?? c} (${c})`).join(' or ');
  let result: unknown;
  try {
    result = await fn();
  } catch (err) {
    if (!isSnaphostError(err)) {
      const name = err instanceof Error ? err.constructor.name : typeof err;
      throw new CheckFailure(`${what}: expected ${wanted}, got ${name} "${describe(err)}" (not an SDK error class: it would reach containerd as INTERNAL)`);
    }
    if (!codes.includes(err.code)) throw new CheckFailure(`${what}: expected ${wanted}, got ${err.constructor.name} (${err.code}) "${err.message}"`);
    return err;
  }
  throw new CheckFailure(`${what}: expected ${wanted}, but it succeeded (returned ${inspect(result, { depth: 2, breakLength: Infinity })})`);
}

export function expectEqual(what: string, actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) {
    const show = (v: unknown) => inspect(v, { depth: 4, breakLength: Infinity });
    throw new CheckFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

export function expectTrue(what: string, ok: boolean): void {
  if (!ok) throw new CheckFailure(what);
}
