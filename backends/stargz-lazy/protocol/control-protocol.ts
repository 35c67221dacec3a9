/**
 * The control protocol between snaphost (`FusedClient`) and the FUSE-serving process: HTTP/1.1
 * over the unix socket `<root>/fused.sock` (mode 0600, in a 0700 directory), JSON bodies of at
 * most 64 KiB, validated with the schemas below on the server.
 *
 * ```
 * GET  /v1/status   -> 200 Status                       (liveness, pid, config digest, warmed up)
 * GET  /v1/mounts   -> 200 { mounts: MountInfo[] }
 * POST /v1/mounts   MountRequest -> 200 { mount: MountInfo }
 *        The layer is mounted at `mountpoint` (an existing empty directory) once the answer
 *        comes: footer and TOC fetched and verified, FUSE mounted. Repeating the request for
 *        the same layer and mountpoint is a no-op; another layer there is FAILED_PRECONDITION.
 *        Closing the connection before the answer cancels the mount.
 * POST /v1/open     OpenRequest -> 200 { opening: boolean }
 *        A hint, answered at once: start fetching and indexing this layer (and the ones in
 *        `following`) now, for the mount request that comes next (it takes the opened layer
 *        instead of opening it). `opening: false` when the layer is served already.
 * POST /v1/unmount  { mountpoint } -> 200 { unmounted: boolean }
 *        Lazy unmount; also detaches a stale mount of this file system that the process does
 *        not serve (left by a process that died). Nothing mounted: `unmounted: false`.
 * POST /v1/check    { mountpoints } -> 200 { layers: LayerCheck[] }   (same order)
 *        Can each layer be read in full now? Available = served AND (every chunk cached OR
 *        its registry answers a HEAD of the blob). Probes are memoized per blob and host for
 *        a few seconds and bounded (a hung registry costs a few seconds, once).
 * GET  /v1/metrics  -> 200 Metrics   (counters since the process started; no registry traffic)
 * POST /v1/config   { config } -> 200 { configDigest, applied }   (live reconfiguration: config-update.ts)
 * GET  /v1/attach   -> 200, one line `{"attached":true}`, then held open: the client (snaphost)
 *        is attached while it keeps the connection. A process that serves no layer and has no
 *        client attached and no request running for `idleExitMs` exits (idle-exit.ts).
 * errors: 4xx/5xx { error: { code: WireCode, message } }
 * ```
 *
 * `code` is the SDK error code, or `NOT_ESTARGZ` for a blob that is not eStargz (so the
 * snapshotter falls back to an ordinary pull). The HTTP status only mirrors it.
 */
import { isAbsolute, normalize } from 'node:path';
import { z, type ErrorCode } from '../../../core/sdk.js';
import { SHA256_DIGEST } from '../registry/digest.js';

export const MAX_BODY_BYTES = 64 * 1024;

const PATH_MAX = 4095;

export const mountpointSchema = z
  .string()
  .min(1)
  .max(PATH_MAX)
  .refine((p) => !p.includes('\0'), 'must not contain NUL')
  .refine((p) => isAbsolute(p) && normalize(p) === p && (p === '/' || !p.endsWith('/')), 'must be an absolute, normalised path');

const digestSchema = z.string().regex(SHA256_DIGEST, 'expected sha256:<64 hex>');
const urlsSchema = z.array(z.string().url().max(4096)).max(64);

export const mountRequestSchema = z
  .object({
    mountpoint: mountpointSchema,
    /** Image reference, `host/repository[:tag][@digest]`: the registry that holds the blob. */
    reference: z.string().min(1).max(1024),
    /** The layer blob's digest. */
    digest: digestSchema,
    /** Expected TOC digest (layer label `containerd.io/snapshot/stargz/toc.digest`). */
    tocDigest: digestSchema.optional(),
    /** Direct URLs of the blob (foreign layers), tried after the registry. */
    urls: urlsSchema.optional(),
    /** Prefetch at most this many compressed bytes after mounting (capped by the process's config); 0/absent: none. */
    prefetchBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /**
     * The image's layers above this one, bottom first (label `…/stargz.layers`): the process may
     * open them ahead (footer and TOC) so that their own mounts come quicker.
     */
    following: z
      .array(z.object({ digest: digestSchema, urls: urlsSchema.optional() }).strict())
      .max(16)
      .optional(),
  })
  .strict();

export type MountRequest = z.output<typeof mountRequestSchema>;

/** A mount request without a mount point (and without prefetch, which follows a mount). */
export const openRequestSchema = mountRequestSchema.omit({ mountpoint: true, prefetchBytes: true });

export type OpenRequest = z.output<typeof openRequestSchema>;

export const unmountRequestSchema = z.object({ mountpoint: mountpointSchema }).strict();

/** Layers checked in one request at most (an image has at most a few hundred). */
export const MAX_CHECK_MOUNTPOINTS = 1024;

export const checkRequestSchema = z.object({ mountpoints: z.array(mountpointSchema).max(MAX_CHECK_MOUNTPOINTS) }).strict();

// The answers. The process builds them, so it does not parse them; the client checks only their
// outline (fused-client.ts): what an older process leaves out is optional here.

/** Uncompressed bytes of a layer's file contents held in the chunk cache, and in total. */
const bytes = z.number().int().min(0);

/** One layer's answer to `POST /v1/check`. */
export const layerCheckSchema = z.object({
  mountpoint: z.string(),
  /** False when the process serves nothing there. */
  served: z.boolean(),
  digest: z.string().optional(),
  reference: z.string().optional(),
  available: z.boolean(),
  /** Why it is not available, e.g. `registry 127.0.0.1:5000 unreachable: connect ECONNREFUSED …; 37 percent of the layer is cached`. */
  reason: z.string().optional(),
  /** Uncompressed bytes of the layer's file contents held in the chunk cache, and in total. */
  fetchedBytes: bytes,
  totalBytes: bytes,
});

export type LayerCheck = z.output<typeof layerCheckSchema>;

export const layerFormatSchema = z.enum(['estargz', 'legacy-stargz', 'zstd:chunked']);
export const backgroundStateSchema = z.enum(['waiting', 'running', 'complete', 'failed', 'paused']);
export const mountStateSchema = z.enum(['mounted', 'unmounting']);
export const prefetchStateSchema = z.enum(['none', 'running', 'complete', 'partial', 'failed']);

export type BackgroundState = z.output<typeof backgroundStateSchema>;
export type MountState = z.output<typeof mountStateSchema>;
export type PrefetchState = z.output<typeof prefetchStateSchema>;

/** One mount the process serves (`GET /v1/mounts`, the answer to `POST /v1/mounts`). */
export const mountInfoSchema = z.object({
  mountpoint: z.string(),
  digest: z.string(),
  reference: z.string(),
  tocDigest: z.string(),
  /** The layer's format (absent from an older process). */
  format: layerFormatSchema.optional(),
  state: mountStateSchema,
  prefetch: z.object({ state: prefetchStateSchema, files: z.number().int().min(0), bytes }),
  /** ISO time the mount was made. */
  mountedAt: z.string(),
  reads: z.number().int().min(0),
  bytesRead: bytes,
  readErrors: z.number().int().min(0),
  /** Uncompressed bytes of the layer's file contents held in the chunk cache, and in total. */
  fetchedBytes: bytes,
  totalBytes: bytes,
  /** The layer's background fetch; absent when background fetch is off. */
  background: z.object({ state: backgroundStateSchema, fetchedBytes: bytes, totalBytes: bytes }).optional(),
});

export type MountInfo = z.output<typeof mountInfoSchema>;

/** What the snapshotter reads of a mount: progress and prefetch are absent from an older process. */
export const servedMountSchema = mountInfoSchema
  .pick({ mountpoint: true, digest: true, reference: true, format: true, state: true, fetchedBytes: true, totalBytes: true, prefetch: true, background: true })
  .partial({ fetchedBytes: true, totalBytes: true, prefetch: true });

export type ServedMount = z.output<typeof servedMountSchema>;

/** `GET /v1/metrics`: counters since the process started, gauges now. */
export const metricsSchema = z.object({
  /** Compressed blob bytes received from registries (mount, reads, prefetch, background). */
  registryBytes: bytes,
  /** File reads that had to wait for the registry. */
  registryReads: z.number().int().min(0),
  cache: z.object({
    hits: z.number().int().min(0),
    misses: z.number().int().min(0),
    memoryBytes: bytes,
    diskBytes: bytes,
    /** 0: no cap. */
    diskLimitBytes: bytes,
    evictions: z.number().int().min(0),
  }),
  /** FUSE read latency in seconds (cumulative buckets). */
  readLatency: z.object({ buckets: z.array(z.object({ le: z.number(), count: z.number() })), sum: z.number(), count: z.number() }),
  /** Registry probes sent by availability checks. */
  probes: z.number().int().min(0),
  /** Layer mounts found removed from outside (`umount -l`) and released; absent from older processes. */
  vanishedMounts: z.number().int().min(0).optional(),
});

export type Metrics = z.output<typeof metricsSchema>;

/** `GET /v1/status`. */
export const statusSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  /** sha256 of the validated configuration the process runs with. */
  configDigest: z.string(),
  mounts: z.number().int().min(0),
  /** The start-up warm-up is over (done, stopped by a mount, or failed); absent from older processes. */
  warm: z.boolean().optional(),
  /** Control protocol version (generation.ts); absent from older processes (version 0). */
  protocol: z.number().int().min(0).optional(),
  /** Runtime content id of a process started with `fusedOnHost` (generation.ts). */
  generation: z.string().optional(),
});

export type Status = z.output<typeof statusSchema>;

export type WireCode = ErrorCode | 'NOT_ESTARGZ';

export interface WireError {
  error: { code: WireCode; message: string };
}

export function httpStatusOf(code: WireCode): number {
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'NOT_ESTARGZ':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'ALREADY_EXISTS':
    case 'FAILED_PRECONDITION':
      return 409;
    case 'UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}
