/**
 * The one error model of snaphost. Backends throw the snapshot errors; the host throws the
 * host errors. Match on `code`, never on message text. `core/grpc/status.ts` is the only place
 * that maps these codes to gRPC status codes.
 */

/** Stable error codes. */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'INVALID_ARGUMENT'
  | 'UNAVAILABLE'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL'
  | 'CONFIG_INVALID'
  | 'BACKEND_LOAD'
  | 'BACKEND_CONTRACT'
  | 'BACKEND_TIMEOUT'
  | 'SOCKET_IN_USE';

export abstract class SnaphostError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

// ---- errors a backend throws (the snapshotter contract) -------------------------------

/** The snapshot, key or parent does not exist. */
export class NotFoundError extends SnaphostError {
  readonly code = 'NOT_FOUND' as const;
}
/** The key or name is taken (also: the remote-snapshot signal of `prepare`). */
export class AlreadyExistsError extends SnaphostError {
  readonly code = 'ALREADY_EXISTS' as const;
}
/** The snapshot is not in a state that allows this (remove with children, commit a view). */
export class FailedPreconditionError extends SnaphostError {
  readonly code = 'FAILED_PRECONDITION' as const;
}
/** The request itself is wrong (empty key, bad filter, immutable field in an update mask). */
export class InvalidArgumentError extends SnaphostError {
  readonly code = 'INVALID_ARGUMENT' as const;
}
/** A resource the backend needs is not reachable right now (registry, device); retry later. */
export class UnavailableError extends SnaphostError {
  readonly code = 'UNAVAILABLE' as const;
}
/** The backend does not implement this operation. */
export class NotImplementedError extends SnaphostError {
  readonly code = 'NOT_IMPLEMENTED' as const;
}

/** An unexpected failure inside a backend, wrapped with the backend and method names. */
export class InternalError extends SnaphostError {
  readonly code = 'INTERNAL' as const;
  constructor(
    readonly backend: string,
    readonly method: string,
    cause: unknown,
  ) {
    super(`${backend}.${method}: ${describe(cause)}`, { cause });
  }
}

// ---- errors of the host ------------------------------------------------------------------

export interface ConfigIssue {
  /** Path in the config, e.g. `backends[1].options.size`; '' for the whole file. */
  path: string;
  message: string;
}

/** The configuration is invalid. Lists every issue with its path. */
export class ConfigError extends SnaphostError {
  readonly code = 'CONFIG_INVALID' as const;
  constructor(
    readonly issues: ConfigIssue[],
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(
      (file ? `invalid config ${file}:\n` : 'invalid config:\n') +
        issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n'),
      options,
    );
  }
}

/** A backend module could not be imported or is not a backend definition. */
export class BackendLoadError extends SnaphostError {
  readonly code = 'BACKEND_LOAD' as const;
  constructor(
    readonly backend: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`backend "${backend}": ${message}`, options);
  }
}

/**
 * A backend broke the contract (wrong apiVersion, instance missing a method, create threw).
 * With `index` (its place in the config) the message names `backends[index] "name"`.
 */
export class BackendContractError extends SnaphostError {
  readonly code = 'BACKEND_CONTRACT' as const;
  constructor(
    readonly backend: string,
    message: string,
    options?: { cause?: unknown; index?: number },
  ) {
    super(`${backendLabel(backend, options?.index)}: ${message}`, options);
  }
}

/** A backend's `create` (or `close`) did not settle in time. */
export class BackendTimeoutError extends SnaphostError {
  readonly code = 'BACKEND_TIMEOUT' as const;
  constructor(
    readonly backend: string,
    readonly phase: 'create' | 'close',
    readonly ms: number,
    index?: number,
  ) {
    super(`${backendLabel(backend, index)}: ${phase}() did not finish within ${ms} ms`);
  }
}

/** `backend "name"`, or `backends[2] "name"` when its place in the config is known. */
function backendLabel(backend: string, index: number | undefined): string {
  return index === undefined ? `backend "${backend}"` : `backends[${index}] "${backend}"`;
}

/** A socket path is already served by a live process. */
export class SocketInUseError extends SnaphostError {
  readonly code = 'SOCKET_IN_USE' as const;
  constructor(readonly socket: string) {
    super(`socket ${socket} is in use by a live process (another snaphost?); refusing to replace it`);
  }
}

/**
 * True for our error classes, also when they come from another copy of this package (a
 * third-party backend that bundled its own snaphost): those match by `code`.
 */
export function isSnaphostError(err: unknown): err is SnaphostError {
  if (err instanceof SnaphostError) return true;
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'INVALID_ARGUMENT',
  'UNAVAILABLE',
  'NOT_IMPLEMENTED',
  'INTERNAL',
  'CONFIG_INVALID',
  'BACKEND_LOAD',
  'BACKEND_CONTRACT',
  'BACKEND_TIMEOUT',
  'SOCKET_IN_USE',
]);

/** A one-line description of anything thrown. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
