/**
 * Registry answers and transport failures turned into snaphost errors, in one place:
 * 404 → NotFoundError; 416 → InvalidArgumentError; 5xx, 429, network errors and timeouts →
 * UnavailableError (retried first); 401/403 and other 4xx → RegistryStatusError (a
 * FailedPreconditionError carrying the status); credential failures → CredentialsError.
 * Messages name the blob and the host.
 */
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  SnaphostError,
  UnavailableError,
} from '../../../core/sdk.js';
import type { BlobLocation } from './blob-transport.js';
import { BodyLengthError } from './read-body.js';
import { Retryable } from './retry.js';

/** The registry (or blob storage) answered with a status we cannot use. */
export class RegistryStatusError extends FailedPreconditionError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Credentials for a registry could not be found out: a malformed docker config, a credential
 * helper that is missing, fails or hangs. Names the file or helper and the registry host.
 */
export class CredentialsError extends FailedPreconditionError {}

/** Statuses worth another try: the server is overloaded or briefly broken. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * The error for an unusable status. `what` names the blob and host. Retryable statuses come
 * wrapped in `Retryable` (with the server's Retry-After, if any) for the retry loop.
 */
export function statusError(what: string, status: number, retryAfter?: string | string[]): Error {
  if (status === 404) return new NotFoundError(`${what}: not found (HTTP 404)`);
  if (status === 416) return new InvalidArgumentError(`${what}: range not satisfiable (HTTP 416)`);
  if (isRetryableStatus(status)) {
    return new Retryable(new UnavailableError(`${what}: HTTP ${status}`), retryAfterMs(retryAfter));
  }
  if (status === 401) return new RegistryStatusError(`${what}: unauthorized (HTTP 401)`, status);
  if (status === 403) return new RegistryStatusError(`${what}: access denied (HTTP 403)`, status);
  return new RegistryStatusError(`${what}: unexpected HTTP ${status}`, status);
}

/**
 * A throw from the transport (undici, sockets, DNS) as a retryable UnavailableError; our own
 * errors and `Retryable` pass through unchanged.
 */
export function transportError(what: string, err: unknown): Error {
  if (err instanceof SnaphostError || err instanceof Retryable) return err;
  return new Retryable(new UnavailableError(`${what}: ${transportReason(err)}`, { cause: err }));
}

/** A short reason for a transport failure: `connect ECONNREFUSED`, `headers timeout`, … */
export function transportReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as Error & { code?: unknown }).code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'no response headers in time (headers timeout)';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'response body stalled (body timeout)';
    case 'UND_ERR_SOCKET':
      return `connection lost: ${err.message}`;
    default:
      return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message || err.name;
  }
}

/** `Retry-After` in ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A protocol violation by the server (wrong Content-Range, short body, bad multipart). */
export function protocolError(what: string, why: string): UnavailableError {
  return new UnavailableError(`${what}: bad response: ${why}`);
}

/** Runs one exchange with `loc`, turning body-length and transport failures into our errors. */
export async function exchange<T>(loc: BlobLocation, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BodyLengthError) throw protocolError(loc.what, err.message);
    if (err instanceof SnaphostError) throw err;
    throw transportError(loc.what, err);
  }
}
