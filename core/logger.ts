/**
 * pino logging: JSON lines with a string `level` and ISO `time`, pretty-printed when stderr is
 * a TTY. One root logger per process; `root.child({ backend })` per backend; the adapter adds
 * `{ method, key }` per call.
 */
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Secrets that must never reach a log line, wherever a careless caller put them (the CRI
 * proxy never passes one: this is the second line of defence). Top level and one level down.
 */
const SECRET_KEYS = ['password', 'identityToken', 'identity_token', 'registryToken', 'registry_token', 'auth', 'authorization', 'Authorization'];
export const REDACT_PATHS: readonly string[] = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), 'headers.authorization', '*.headers.authorization'];

export interface LoggerOptions {
  level?: LogLevel;
  /** Force pretty output on or off; default: pretty when stderr is a TTY. */
  pretty?: boolean;
  /** Where to write; default stderr (fd 2). */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const base: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
  if (opts.destination) return pino(base, opts.destination);
  if (pretty) {
    return pino({
      ...base,
      formatters: undefined,
      transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:standard' } },
    });
  }
  return pino(base, pino.destination({ fd: 2, sync: false }));
}
