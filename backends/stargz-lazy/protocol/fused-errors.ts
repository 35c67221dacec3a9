/**
 * Errors across the control socket: the server turns what it caught into a wire code, the
 * client turns the code back into the SDK error classes. The snapshotter matches on `code`:
 *
 * - `NOT_ESTARGZ` (`NotEstargzLayerError`): the blob is an ordinary layer; pull it normally.
 * - `UNAVAILABLE`: the registry could not be reached or served bad data
 *   (`UnavailableError`), or the process itself could not be reached
 *   (`FusedUnreachableError`, a subclass, `reason: 'FUSED_UNREACHABLE'`).
 * - `INVALID_ARGUMENT`: a bad request, or a malformed/oversized eStargz blob.
 * - `NOT_FOUND`, `ALREADY_EXISTS`, `FAILED_PRECONDITION` as in the SDK.
 */
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  SnaphostError,
  UnavailableError,
} from '../../../core/sdk.js';
import { NotEstargzError } from '../estargz/errors.js';
import type { WireCode, WireError } from './control-protocol.js';

/** The blob is not eStargz: not an error of the snapshotter, a reason to fall back to a full pull. */
export class NotEstargzLayerError extends Error {
  readonly code = 'NOT_ESTARGZ' as const;
  constructor(message: string) {
    super(message);
    this.name = 'NotEstargzLayerError';
  }
}

/** The FUSE-serving process did not answer (not running, not starting, connection broke). */
export class FusedUnreachableError extends UnavailableError {
  readonly reason = 'FUSED_UNREACHABLE' as const;
}

/** An unexpected failure inside the FUSE-serving process. */
export class FusedInternalError extends Error {
  readonly code = 'INTERNAL' as const;
  constructor(message: string) {
    super(message);
    this.name = 'FusedInternalError';
  }
}

/** What the server answers for `err`. */
export function toWireError(err: unknown): WireError {
  if (err instanceof NotEstargzError) return { error: { code: 'NOT_ESTARGZ', message: err.message } };
  if (err instanceof SnaphostError) return { error: { code: err.code, message: err.message } };
  const message = err instanceof Error ? err.message || err.name : String(err);
  return { error: { code: 'INTERNAL', message } };
}

/** The class of each wire code the client knows; any other code is FusedInternalError. */
const CLASS_OF = new Map<string, new (message: string) => Error>([
  ['NOT_ESTARGZ', NotEstargzLayerError],
  ['NOT_FOUND', NotFoundError],
  ['ALREADY_EXISTS', AlreadyExistsError],
  ['FAILED_PRECONDITION', FailedPreconditionError],
  ['INVALID_ARGUMENT', InvalidArgumentError],
  ['UNAVAILABLE', UnavailableError],
  ['NOT_IMPLEMENTED', NotImplementedError],
] satisfies [WireCode, new (message: string) => Error][]);

/** The error the client throws for a wire error. */
export function fromWireError(code: string, message: string): Error {
  const ErrorClass = CLASS_OF.get(code) ?? FusedInternalError;
  return new ErrorClass(`FUSE process: ${message}`);
}
