/**
 * Errors of the eStargz reader. Callers match on the class (or `code`), never on text.
 *
 * - `NotEstargzError`: the blob has no eStargz footer. It is an ordinary layer: pull it fully.
 * - `MalformedEstargzError`: the blob claims to be eStargz but its TOC or entries are broken or
 *   unsafe (names escaping the root, chunks outside the blob, …). Never mount it lazily.
 * - `EstargzLimitError`: a malformed blob whose problem is a size cap (see `limits.ts`).
 * - `VerificationError`: bytes that do not verify (TOC digest, chunk digest, corrupt or short
 *   gzip data). Such bytes are never served and never cached. It is UNAVAILABLE, not
 *   INVALID_ARGUMENT: the registry (or a proxy) served bad data, and a retry may get good data.
 */
import { InvalidArgumentError, UnavailableError } from '../../../core/sdk.js';
import type { EstargzLimits } from './limits.js';

export class NotEstargzError extends InvalidArgumentError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`not an eStargz blob: ${reason}`, options);
  }
}

export class MalformedEstargzError extends InvalidArgumentError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`malformed eStargz blob: ${reason}`, options);
  }
}

export class EstargzLimitError extends MalformedEstargzError {
  constructor(
    readonly limit: keyof EstargzLimits,
    readonly actual: number,
    readonly max: number,
    what: string,
  ) {
    super(`${what} is ${actual}, above the limit ${limit}=${max}`);
  }
}

export class VerificationError extends UnavailableError {
  constructor(
    /** What failed: `TOC` or `chunk <file>@<chunkOffset>`. */
    readonly subject: string,
    /** The digest the content must have. */
    readonly expected: string,
    /** The digest the content had, when it could be computed. */
    readonly actual: string | undefined,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${subject} failed verification: ${reason}`, options);
  }
}
