/**
 * Caps that keep a hostile or broken blob from costing unbounded memory, CPU or bandwidth.
 * The defaults fit every real image seen so far with a wide margin (a TOC compresses about
 * 5-20×; upstream writers chunk files at 4 MiB).
 */
import { InvalidArgumentError, z } from '../../../core/sdk.js';

const MiB = 1024 * 1024;

const size = (dflt: number) => z.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(dflt);

/** Zod schema of the caps, for embedding in a backend's options (`limits: estargzLimitsSchema.prefault({})`). */
export const estargzLimitsSchema = z
  .object({
    /** Compressed TOC (from the TOC offset to the footer), bytes. */
    maxTocCompressedBytes: size(64 * MiB),
    /** Decompressed TOC gzip member (tar header + JSON), bytes. */
    maxTocBytes: size(256 * MiB),
    /** Decompressed / compressed size of the TOC member (gzip bombs). */
    maxTocRatio: size(100),
    /**
     * TOC entries, chunks included; also the nodes of the layer's tree, the directories its
     * paths imply and the nodes later entries replace included (a 2000-deep path is 2000 nodes).
     */
    maxEntries: size(1_000_000),
    /** Decompressed bytes needed from one gzip member to read one chunk (innerOffset + chunkSize). */
    maxChunkBytes: size(64 * MiB),
    /** Compressed bytes of one chunk's gzip member (what a read must fetch). */
    maxChunkCompressedBytes: size(64 * MiB),
    /**
     * Milliseconds a TOC may take to index (inflate, digest, parse, build the tree) in the
     * FUSE-serving process's index worker; past that the worker is stopped and the layer
     * refused (`EstargzLimitError`, so it is pulled normally). Waiting for a free worker does
     * not count. Indexing is linear in the TOC: a 1M-entry TOC takes a few seconds. Indexing
     * in the calling thread (no worker) cannot be interrupted and ignores it.
     */
    maxIndexMs: z.number().int().positive().max(3_600_000).default(30_000),
    // ---- inflation of chunks (gzip bombs): ratio, bytes held at once, concurrency ----
    /**
     * Decompressed bytes a read inflates from one gzip member (innerOffset + chunkSize) per
     * compressed byte of that member. The default is deflate's own maximum (~1032:1: a 258-byte
     * match in 2 bits): no valid member exceeds it (a zero-filled file compresses 1028:1 at
     * gzip's default level), so it refuses, before fetching or allocating anything, only TOCs
     * that declare more than their data can hold. A lower value also refuses real but highly
     * compressible data (zero-filled files: reading them then fails with EIO).
     */
    maxInflateRatio: z.number().min(1).max(1_000_000).default(1032),
    /**
     * The same ratio for a zstd:chunked layer's frames. zstd's own maximum is far higher than
     * deflate's: an RLE block turns 4 bytes (3-byte header + the byte) into 128 KiB, 32768:1,
     * and real zero-filled files compress thousands to one, so deflate's 1032 would refuse
     * honest layers. The default is that format maximum: only declared sizes no frame can hold
     * are refused.
     */
    maxZstdInflateRatio: z.number().min(1).max(1_000_000).default(32768),
    /**
     * Largest window (log2 bytes) a zstd frame of a chunk may ask the decoder for: the decoder
     * allocates it per decompression, so a hostile frame header could otherwise ask 2 GiB. 24
     * (16 MiB) is twice the 8 MiB window of stargz-snapshotter's writer (klauspost/compress) and
     * above every zstd level up to 19; a frame asking more fails its read (VerificationError).
     */
    maxZstdWindowLog: z.number().int().min(10).max(31).default(24),
    /**
     * Inflated bytes held at once by the whole process (every layer): a member acquires its
     * bytes before they are allocated and holds them until its chunks are in the cache and
     * handed to the reads waiting for them. A chunk larger than the budget is inflated alone.
     * A quarter is kept for container reads: prefetch and background fetch use at most 3/4.
     */
    inflateBudgetBytes: size(256 * MiB),
    /** Inflated bytes held at once by one layer (same accounting as `inflateBudgetBytes`). */
    layerInflateBudgetBytes: size(128 * MiB),
    /**
     * Gzip members inflating at once in the process (each on a libuv thread; the default
     * leaves two of libuv's four threads to the chunk cache's disk reads and writes).
     */
    maxConcurrentInflations: z.number().int().min(1).max(64).default(2),
    // ---- end of inflation caps ----
  })
  .strict();

export type EstargzLimits = z.output<typeof estargzLimitsSchema>;

export const DEFAULT_LIMITS: Readonly<EstargzLimits> = Object.freeze(estargzLimitsSchema.parse({}));

/** Limits this module resolved (frozen): handed back as they are, not parsed again on every chunk read. */
const resolved = new WeakSet<object>([DEFAULT_LIMITS]);

/** Defaults overridden by `partial`; InvalidArgumentError naming the bad field otherwise. */
export function resolveLimits(partial?: Partial<EstargzLimits>): EstargzLimits {
  if (partial === undefined) return DEFAULT_LIMITS;
  if (resolved.has(partial)) return partial as EstargzLimits;
  const parsed = estargzLimitsSchema.safeParse(partial);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(`eStargz limits: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const limits = Object.freeze(parsed.data);
  resolved.add(limits);
  return limits;
}
