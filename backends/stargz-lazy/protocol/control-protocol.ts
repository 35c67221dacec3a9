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

export const MAX_BODY_BYTES = 64 * 1024;

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const PATH_MAX = 4095;

export const mountpointSchema = z
  .string()
  .min(1)
  .max(PATH_MAX)
  .refine((p) => !p.includes('\0'), 'must not contain NUL')
  .refine((p) => isAbsolute(p) && normalize(p) === p && (p === '/' || !p.endsWith('/')), 'must be an absolute, normalised path');

export const mountRequestSchema = z
  .object({
    mountpoint: mountpointSchema,
    /** Image reference (`host/repository[:tag][@digest]`) whose registry holds the blob. */
    reference: z.string().min(1).max(1024),
    digest: z.string().regex(DIGEST, 'expected sha256:<64 hex>'),
    tocDigest: z.string().regex(DIGEST, 'expected sha256:<64 hex>').optional(),
    urls: z.array(z.string().url().max(4096)).max(64).optional(),
    /** Prefetch at most this many compressed bytes after mounting (capped by the process's config); 0/absent: none. */
    prefetchBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** Layers above this one in the image, bottom first: the process may open them ahead. */
    following: z
      .array(
        z
          .object({
            digest: z.string().regex(DIGEST, 'expected sha256:<64 hex>'),
            urls: z.array(z.string().url().max(4096)).max(64).optional(),
          })
          .strict(),
      )
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

/** One layer's answer to `POST /v1/check`. */
export interface LayerCheck {
  mountpoint: string;
  /** False when the process serves nothing there. */
  served: boolean;
  digest?: string;
  reference?: string;
  available: boolean;
  /** Why it is not available, e.g. `registry 127.0.0.1:5000 unreachable: connect ECONNREFUSED …; 37 percent of the layer is cached`. */
  reason?: string;
  /** Uncompressed bytes of the layer's file contents held in the chunk cache, and in total. */
  fetchedBytes: number;
  totalBytes: number;
}

export type BackgroundState = 'waiting' | 'running' | 'complete' | 'failed' | 'paused';

export type MountState = 'mounted' | 'unmounting';
export type PrefetchState = 'none' | 'running' | 'complete' | 'partial' | 'failed';

export interface MountInfo {
  mountpoint: string;
  digest: string;
  reference: string;
  tocDigest: string;
  state: MountState;
  prefetch: { state: PrefetchState; files: number; bytes: number };
  /** ISO time the mount was made. */
  mountedAt: string;
  reads: number;
  bytesRead: number;
  readErrors: number;
  /** Uncompressed bytes of the layer's file contents held in the chunk cache, and in total. */
  fetchedBytes: number;
  totalBytes: number;
  /** The layer's background fetch; absent when background fetch is off. */
  background?: { state: BackgroundState; fetchedBytes: number; totalBytes: number };
}

/** `GET /v1/metrics`: counters since the process started, gauges now. */
export interface Metrics {
  /** Compressed blob bytes received from registries (mount, reads, prefetch, background). */
  registryBytes: number;
  /** File reads that had to wait for the registry. */
  registryReads: number;
  cache: {
    hits: number;
    misses: number;
    memoryBytes: number;
    diskBytes: number;
    /** 0: no cap. */
    diskLimitBytes: number;
    evictions: number;
  };
  /** FUSE read latency in seconds (cumulative buckets). */
  readLatency: { buckets: { le: number; count: number }[]; sum: number; count: number };
  /** Registry probes sent by availability checks. */
  probes: number;
  /** Layer mounts found removed from outside (`umount -l`) and released; absent from older processes. */
  vanishedMounts?: number;
}

export interface Status {
  pid: number;
  startedAt: string;
  /** sha256 of the validated configuration the process runs with. */
  configDigest: string;
  mounts: number;
  /** The start-up warm-up is over (done, stopped by a mount, or failed); absent from older processes. */
  warm?: boolean;
}

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
