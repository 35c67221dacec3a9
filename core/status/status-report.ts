/**
 * What `snaphost status` reports: the daemon, and per backend its state, socket, root,
 * snapshot count, disk use and (lazy backends) each remote layer. The zod schemas are what
 * the client checks the daemon's answer against, and `collect-status.ts` checks a backend's
 * own `status()` answer against the layer schema.
 */
import { z } from 'zod';

export const layerStatusSchema = z
  .object({
    snapshot: z.string(),
    digest: z.string(),
    reference: z.string().optional(),
    state: z.enum(['available', 'unavailable']),
    reason: z.string().optional(),
    fetchedBytes: z.number().nonnegative().finite(),
    totalBytes: z.number().nonnegative().finite(),
    format: z.string().optional(),
    prefetch: z.string().optional(),
    background: z.string().optional(),
  })
  .strict();

export const backendReportSchema = z
  .object({
    name: z.string(),
    use: z.string(),
    state: z.enum(['starting', 'serving', 'failed', 'stopping', 'stopped']),
    socket: z.string(),
    root: z.string(),
    optional: z.boolean(),
    error: z.string().optional(),
    snapshots: z.number().int().nonnegative().optional(),
    /** `backend`: reported by the backend's `status()`; `list`: counted by the host. */
    snapshotsSource: z.enum(['backend', 'list']).optional(),
    diskBytes: z.number().nonnegative().optional(),
    /** `backend`: reported by the backend; `measured`: the host walked the root (one file system). */
    diskSource: z.enum(['backend', 'measured']).optional(),
    layers: z.array(layerStatusSchema).optional(),
    /** What could not be collected, and why (a slow walk, a failing `status()`). */
    problems: z.array(z.string()).optional(),
  })
  .strict();

/** The CRI image-service proxy: its sockets and a count, never a credential or a repository name. */
export const criProxyReportSchema = z
  .object({
    listen: z.string(),
    upstream: z.string(),
    repositoriesWithCredentials: z.number().int().nonnegative(),
  })
  .strict();

export const daemonReportSchema = z
  .object({
    pid: z.number().int(),
    config: z.string().optional(),
    startedAt: z.string(),
    adminSocket: z.string(),
    backends: z.array(backendReportSchema),
    criProxy: criProxyReportSchema.optional(),
  })
  .strict();

export type LayerReport = z.infer<typeof layerStatusSchema>;
export type BackendReport = z.infer<typeof backendReportSchema>;
export type CriProxyReport = z.infer<typeof criProxyReportSchema>;
export type DaemonReport = z.infer<typeof daemonReportSchema>;
