/**
 * Options of the `stargz-lazy` backend (validated by the host before `create` runs). Every field
 * has a default. Each default and bound is written here only: the FUSE-serving process's
 * configuration (protocol/fused-config.ts) takes its fields from these schemas, and
 * docs/configuration.md documents them.
 */
import { z } from '../../core/sdk.js';
import { estargzLimitsSchema } from './estargz/limits.js';
import { registryOptions } from './registry/options.js';
import { DEFAULT_FUSED_MEMORY_LIMIT_BYTES, MIN_FUSED_MEMORY_LIMIT_BYTES } from './protocol/memory-budget.js';

const MiB = 1024 * 1024;

export const cacheOptions = z
  .object({
    /**
     * Verified chunks kept in the FUSE process's memory in front of the on-disk cache, bytes.
     * The kernel's page cache already keeps what containers read (a layer is mounted with
     * `kernel_cache`) and the cache files the process reads: this only has to hold the chunk
     * being read and the one read ahead (two upstream 4 MiB chunks) and the small files a region
     * fetch brought in; more measured no faster (docs/benchmarks.md, "Memory (issue 16)").
     */
    memoryBytes: z.number().int().min(0).max(64 * 1024 * MiB).default(8 * MiB),
    /**
     * Cap of the on-disk chunk cache, bytes; least recently used chunks are evicted beyond it
     * (0: no cap). Chunks of a layer whose registry cannot be reached are kept while it is mounted.
     */
    diskBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(10 * 1024 * MiB),
  })
  .strict();

export const backgroundFetchOptions = z
  .object({
    /** Fetch whole mounted layers into the cache in the background, so they no longer need the registry. */
    enabled: z.boolean().default(true),
    /** Layers fetched at the same time. */
    concurrency: z.number().int().min(1).max(64).default(2),
    /** Pause while a container read needed the registry within this many ms (foreground reads first). */
    quietMs: z.number().int().min(0).max(600_000).default(1_000),
    /** Start a layer's background fetch this long after it was mounted (a pull and the container's start come first). */
    startDelayMs: z.number().int().min(0).max(3_600_000).default(30_000),
  })
  .strict();

export const prefetchOptions = z
  .object({
    /** Fetch the files before the layer's `.prefetch.landmark` when it is mounted. */
    enabled: z.boolean().default(true),
    /** At most this many compressed bytes per layer. */
    maxBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(256 * MiB),
    /** Give up a layer's prefetch after this long (the files are still fetched on first read). */
    timeoutMs: z.number().int().positive().max(3_600_000).default(30_000),
  })
  .strict();

/** The FUSE transports a layer can be served with (fs/transport.ts). */
export const FS_TRANSPORTS = ['fuse-native', 'kernel'] as const;
export type FsTransport = (typeof FS_TRANSPORTS)[number];

export const fsOptions = z
  .object({
    /**
     * `fuse-native`: libfuse 2 through the fuse-native addon (works wherever /dev/fuse and
     * fusermount do). `kernel`: snaphost speaks the kernel FUSE protocol on /dev/fuse itself
     * (fuse-kernel/: its own addon, readdirplus, nanosecond times, 64-bit inodes, reads as
     * large as the kernel allows); a mount fails with FAILED_PRECONDITION naming why when that
     * addon is not built or /dev/fuse is missing (no silent fallback). Read at each mount.
     * Default `fuse-native` for now: `kernel` won the side-by-side benchmark (docs/benchmarks.md,
     * "The kernel FUSE transport (issue 17)"), but with it a FUSE process killed together with its
     * connection keeper is not yet replaced cleanly (the new process found the lock still held).
     */
    transport: z.enum(FS_TRANSPORTS).default('fuse-native'),
    /**
     * With `transport: kernel`: a file whose bytes are all in the local cache is opened with
     * kernel passthrough (Linux >= 6.9), so its reads go kernel-to-disk without snaphost; where
     * the kernel does not offer it or refuses, reads go through snaphost as before (said once
     * per mount). false: never ask (a kernel with a passthrough bug). Read at each mount.
     */
    passthrough: z.boolean().default(true),
  })
  .strict();

export const stargzLazyOptions = z
  .object({
    /** Registry client: timeouts, retries, plain-HTTP hosts (loopback hosts always are). */
    registry: registryOptions.prefault({}),
    /** Caps on TOC size, entry count and chunk sizes that keep a hostile blob cheap. */
    estargz: estargzLimitsSchema.prefault({}),
    cache: cacheOptions.prefault({}),
    prefetch: prefetchOptions.prefault({}),
    backgroundFetch: backgroundFetchOptions.prefault({}),
    /**
     * Leave a removed snapshot's directory for containerd's next garbage collection
     * (`cleanup`) instead of deleting it inside `remove`. A remote snapshot's FUSE mount is
     * released at `remove` either way. Default true (as containerd's overlayfs).
     */
    asyncRemove: z.boolean().default(true),
    /** How layers are served to the kernel (fs/transport.ts). */
    fs: fsOptions.prefault({}),
    /** A file read through a remote layer that is not served by then fails with EIO (a container never hangs on it). */
    readTimeoutMs: z.number().int().positive().max(3_600_000).default(60_000),
    /**
     * A read that has to fetch a small file from the registry also fetches the other small
     * files of the same aligned region of this many bytes of the blob, in the same request
     * (each verified and cached); 0 turns it off.
     */
    regionBytes: z.number().int().min(0).max(4 * MiB).default(64 * 1024),
    /** Restore at start of remote snapshots whose FUSE process died: layers mounted at a time. */
    restore: z.object({ concurrency: z.number().int().min(1).max(64).default(4) }).strict().prefault({}),
    /**
     * Start the FUSE-serving process when the backend opens, before its socket is served, so
     * that the first lazy pull does not wait for the process to start (a few hundred ms).
     * false: start it at the first remote prepare (or at open for a root that served remote
     * layers before).
     */
    startFusedAtOpen: z.boolean().default(true),
    /**
     * The FUSE-serving process exits after this long serving no layer with no snaphost
     * attached (the daemon stopped or closed the backend); 0: it never exits on its own.
     */
    fusedIdleExitMs: z.number().int().min(0).max(86_400_000).default(30_000),
    /**
     * How often the FUSE-serving process checks its layer mounts (one removed from outside is
     * released and logged) and its root directory and socket (removed: it exits once it serves
     * no layer); 0: never.
     */
    fusedOutsideCheckMs: z.number().int().min(0).max(600_000).default(5_000),
    /**
     * Run the FUSE-serving process on the node, outside the snaphost container (a DaemonSet pod),
     * so that it outlives a restart, a `kubectl delete pod` or an upgrade of snaphost: started from a
     * copy of its runtime under the backend's root (`<root>/runtime/<id>`), in the mount namespace
     * `mountNamespace` (the node's: `/proc/1/ns/mnt` with `hostPID: true`), moved into cgroup
     * `cgroup` under the root of every cgroup hierarchy. One process per build of fused
     * (`<root>/generations/<id>`): an older one keeps serving the layers it mounted.
     */
    fusedOnHost: z
      .object({
        enabled: z.boolean().default(false),
        mountNamespace: z.string().startsWith('/', 'an absolute path').max(4096).default('/proc/1/ns/mnt'),
        cgroup: z
          .string()
          .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'one path segment of letters, digits, _ . -')
          .default('snaphost-fused'),
      })
      .strict()
      .prefault({}),
    /**
     * The FUSE-serving process's memory ceiling, bytes (protocol/memory-budget.ts): its V8 heap
     * limit is derived from it, the memory chunk cache is cut to fit in it, and, running on the
     * host (`fusedOnHost`), its cgroup gets `memory.high` at it and `memory.max` at twice it plus
     * `estargz.inflateBudgetBytes` (protocol/memory-budget.ts `cgroupLimitsOf`).
     * A change reaches the heap limit at the process's next start.
     */
    fusedMemoryLimitBytes: z.number().int().min(MIN_FUSED_MEMORY_LIMIT_BYTES).max(1024 * 1024 * MiB).default(DEFAULT_FUSED_MEMORY_LIMIT_BYTES),
    /** How long to wait for the FUSE-serving process to start and answer. */
    fusedStartTimeoutMs: z.number().int().positive().max(600_000).default(10_000),
    /**
     * How long a remote `prepare` may take to mount a layer (footer and TOC fetched and
     * verified) before it gives up and answers with an ordinary snapshot that containerd fills.
     */
    mountTimeoutMs: z.number().int().positive().max(600_000).default(30_000),
    /**
     * Mount lazily a layer whose TOC cannot be tied to the manifest: one without the
     * `containerd.io/snapshot/stargz/toc.digest` annotation (containerd forwards it as a label).
     * Such a layer's TOC, and with it every chunk digest, comes from whatever answered for the
     * blob (a plain-HTTP registry or mirror, redirected storage, a layer's `urls` host): nothing
     * checks it against the layer digest, so a swapped blob would be mounted and read.
     * false (default): such a layer is not mounted lazily; the prepare answers an ordinary
     * snapshot that containerd fills with a normal pull, which verifies the whole blob against
     * the layer digest. The Go stargz-snapshotter's `allow_no_verification` (its
     * `disable_verification`, which skips chunk verification too, has no equivalent here:
     * chunks are always verified against the TOC).
     */
    allowUnverifiedLayers: z.boolean().default(false),
  })
  .strict();

export type StargzLazyOptions = z.output<typeof stargzLazyOptions>;
