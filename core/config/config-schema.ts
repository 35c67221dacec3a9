/**
 * The host's zod schema for `plugins.config.ts` (the shape typed by `define-config.ts`).
 * Strict at every level: an unknown key is an error, never ignored. Entries are validated one
 * by one (`entrySchema`) so a mistake in one entry does not hide the problems of the others.
 * Backend `options` are only checked to be an object here; the backend's own schema validates
 * their content.
 */
import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from '../logger.js';
import { parseHostPort } from '../metrics/host-port.js';
import { requestLimitsSchema } from '../grpc/request-limits.js';
import { criProxySchema } from '../cri-proxy/cri-proxy-options.js';

const logLevel = z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]]);

const path = z
  .string()
  .min(1, 'must not be empty')
  .refine((p) => !p.includes('\0'), 'must not contain a NUL byte');

const hostPort = z.string({ error: (iss) => (iss.input === undefined ? undefined : 'expected host:port as a string, e.g. "127.0.0.1:9100"') }).superRefine((address, ctx) => {
  const r = parseHostPort(address);
  if ('error' in r) ctx.addIssue({ code: 'custom', message: r.error });
});

const metrics = z.object(
  {
    address: hostPort,
    minIntervalMs: z.number().int().min(0).max(3_600_000).optional(),
    collectTimeoutMs: z.number().int().positive().max(600_000).optional(),
    maxConnections: z.number().int().positive().max(10_000).optional(),
  },
  { error: (iss) => (iss.code === 'invalid_type' && iss.input !== undefined ? 'expected { address: "host:port" }' : undefined) },
).strict();

export const hostSchema = z
  .object({
    backends: z.array(z.unknown()).min(1, 'at least one backend is required'),
    logLevel: logLevel.optional(),
    socketDir: path.optional(),
    rootDir: path.optional(),
    containerdRoot: path.optional(),
    socketMode: z.number().int().min(0).max(0o777, 'must be a file mode between 0 and 0o777').optional(),
    createTimeoutMs: z.number().int().positive().optional(),
    shutdownTimeoutMs: z.number().int().nonnegative().optional(),
    metrics: metrics.optional(),
    limits: requestLimitsSchema.optional(),
    criProxy: criProxySchema.optional(),
  })
  .strict();

const use = z.custom<string | object>(
  (v) => (typeof v === 'string' && v.length > 0) || (typeof v === 'object' && v !== null && !Array.isArray(v)),
  'must be a built-in backend name, an npm package name, a file path or a defineBackend() object',
);

export const entrySchema = z
  .object({
    use,
    name: z.string().optional(),
    socket: path.optional(),
    root: path.optional(),
    logLevel: logLevel.optional(),
    optional: z.boolean().optional(),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type HostInput = z.output<typeof hostSchema>;
export type EntryInput = z.output<typeof entrySchema>;
