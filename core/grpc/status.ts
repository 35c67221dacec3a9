/**
 * The only mapping from snaphost error codes to gRPC status codes (containerd's errdefs
 * `ToGRPC`). Everything that is not a snapshot error becomes INTERNAL, wrapped so the message
 * names the backend and the method.
 */
import * as grpc from '@grpc/grpc-js';
import { type ErrorCode, InternalError, type SnaphostError, isSnaphostError } from '../contract/errors.js';
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

