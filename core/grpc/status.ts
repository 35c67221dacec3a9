/**
 * The only mapping between snaphost errors and gRPC status codes, both ways (containerd's
 * errdefs `ToGRPC` / `FromGRPC`). Serving: everything that is not a snapshot error becomes
 * INTERNAL, wrapped so the message names the backend and the method. Calling: a status a
 * snapshot error maps to becomes that error class again.
 */
import * as grpc from '@grpc/grpc-js';
import {
  AlreadyExistsError,
  type ErrorCode,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  type SnaphostError,
  UnavailableError,
  isSnaphostError,
} from '../contract/errors.js';
import { capBytes } from '../text/truncate.js';

/**
 * The longest status message sent, in UTF-8 bytes. The message travels as the `grpc-message`
 * trailer, percent-encoded (up to 3x); HTTP/2 peers refuse header blocks over ~64 KB and a
 * refused trailer leaves the call (and the connection's stream) hanging until its deadline.
 * Messages echo client input through `core/text/truncate.ts` already; this is the last guard
 * that holds whatever path built the message.
 */
export const MAX_STATUS_MESSAGE_BYTES = 4096;

/** The codes a backend may answer with; any other code (host errors) is INTERNAL. */
const GRPC_STATUS: Partial<Record<ErrorCode, grpc.status>> = {
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  NOT_IMPLEMENTED: grpc.status.UNIMPLEMENTED,
  INTERNAL: grpc.status.INTERNAL,
};

/** The class a backend throws for each code it may answer with (INTERNAL is the host's wrapper). */
const ERROR_CLASS = {
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  FAILED_PRECONDITION: FailedPreconditionError,
  INVALID_ARGUMENT: InvalidArgumentError,
  UNAVAILABLE: UnavailableError,
  NOT_IMPLEMENTED: NotImplementedError,
} as const satisfies Partial<Record<ErrorCode, new (message: string, options?: { cause?: unknown }) => SnaphostError>>;

type BackendErrorCode = keyof typeof ERROR_CLASS;

const CODE_OF_STATUS = new Map<grpc.status, BackendErrorCode>(
  (Object.keys(ERROR_CLASS) as BackendErrorCode[]).map((code) => [GRPC_STATUS[code]!, code]),
);

/** The SDK error class of a code (`NotFoundError` for NOT_FOUND), when a backend may throw it. */
export function errorClassOf(code: ErrorCode): (typeof ERROR_CLASS)[BackendErrorCode] | undefined {
  return Object.prototype.hasOwnProperty.call(ERROR_CLASS, code) ? ERROR_CLASS[code as BackendErrorCode] : undefined;
}

/** gRPC status of an error code. */
export function statusOf(code: ErrorCode): grpc.status {
  return GRPC_STATUS[code] ?? grpc.status.INTERNAL;
}

/**
 * What was thrown during `backend`.`method`, as the error the client will see: snapshot
 * errors unchanged, anything else (a TypeError, a host error, a string) as `InternalError`.
 */
export function normalizeError(err: unknown, backend: string, method: string): SnaphostError {
  if (isSnaphostError(err) && GRPC_STATUS[err.code] !== undefined) return err;
  return new InternalError(backend, method, err);
}

/** The gRPC error to answer with; its message at most MAX_STATUS_MESSAGE_BYTES. */
export function toServiceError(err: SnaphostError): Partial<grpc.StatusObject> {
  return { code: statusOf(err.code), details: statusMessage(err) };
}

/** `err.message` as sent to the client (and logged): capped at MAX_STATUS_MESSAGE_BYTES. */
export function statusMessage(err: SnaphostError): string {
  return capBytes(String(err.message), MAX_STATUS_MESSAGE_BYTES);
}


/** The error code a gRPC status stands for, when a snapshot error class maps to it. */
export function codeOfStatus(status: grpc.status): BackendErrorCode | undefined {
  return CODE_OF_STATUS.get(status);
}

/**
 * A failed call as the caller sees it (errdefs `FromGRPC`): the SDK error class of its status,
 * with the server's message and the grpc-js error as `cause`. Any other status (INTERNAL,
 * CANCELLED, DEADLINE_EXCEEDED, …) stays the grpc-js error, its numeric `code` intact.
 */
export function errorFromStatus(err: grpc.ServiceError): Error {
  const code = codeOfStatus(err.code);
  if (code === undefined) return err;
  return new ERROR_CLASS[code](err.details, { cause: err });
}
