/**
 * An indexing error across a thread boundary (toc-index-worker.ts -> toc-index-worker-pool.ts).
 * Structured clone keeps an Error's message but not its class, and callers match on the class
 * (a `NotEstargzError` layer is pulled normally, a `VerificationError` is UNAVAILABLE, …): the
 * worker sends the class and its fields as data, the pool makes the same error again, message
 * and fields unchanged. The worker's job is never redone to get its error.
 */
import { InvalidArgumentError, UnavailableError } from '../../../core/sdk.js';
import type { EstargzLimits } from './limits.js';
import { EstargzLimitError, MalformedEstargzError, NotEstargzError, VerificationError } from './errors.js';

export type TransferableError =
  | { kind: 'limit'; message: string; stack?: string | undefined; limit: keyof EstargzLimits; actual: number; max: number }
  | { kind: 'verification'; message: string; stack?: string | undefined; subject: string; expected: string; actual: string | undefined }
  | { kind: 'not-estargz' | 'malformed' | 'invalid-argument' | 'unavailable' | 'other'; message: string; stack?: string | undefined; name?: string };

/** `err` as plain data (structured-clone safe). */
export function toTransferable(err: unknown): TransferableError {
  const stack = err instanceof Error ? err.stack : undefined;
  if (err instanceof EstargzLimitError) return { kind: 'limit', message: err.message, stack, limit: err.limit, actual: err.actual, max: err.max };
  if (err instanceof VerificationError) {
    return { kind: 'verification', message: err.message, stack, subject: err.subject, expected: err.expected, actual: err.actual };
  }
  if (err instanceof NotEstargzError) return { kind: 'not-estargz', message: err.message, stack };
  if (err instanceof MalformedEstargzError) return { kind: 'malformed', message: err.message, stack };
  if (err instanceof InvalidArgumentError) return { kind: 'invalid-argument', message: err.message, stack };
  if (err instanceof UnavailableError) return { kind: 'unavailable', message: err.message, stack };
  if (err instanceof Error) return { kind: 'other', message: err.message, stack, name: err.name };
  return { kind: 'other', message: String(err) };
}

/** The error `toTransferable` described: same class, message and fields. */
export function fromTransferable(t: TransferableError): Error {
  let err: Error;
  switch (t.kind) {
    case 'limit':
      err = new EstargzLimitError(t.limit, t.actual, t.max, '');
      break;
    case 'verification':
      err = new VerificationError(t.subject, t.expected, t.actual, '');
      break;
    case 'not-estargz':
      err = new NotEstargzError('');
      break;
    case 'malformed':
      err = new MalformedEstargzError('');
      break;
    case 'invalid-argument':
      err = new InvalidArgumentError('');
      break;
    case 'unavailable':
      err = new UnavailableError('');
      break;
    default:
      err = new Error('');
      if (t.name) err.name = t.name;
  }
  err.message = t.message;
  if (t.stack !== undefined) err.stack = t.stack;
  return err;
}
