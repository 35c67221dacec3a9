/**
 * Fetching chunks that are not cached: ONE `readRanges` call for all of them (the reader
 * merges touching members into spans and sends them as one multi-range GET), then each gzip
 * member inflated once for all its chunks (several chunks may share a member) and every chunk
 * verified against its digest.
 *
 * Members go through the layer's inflation budget one by one (`inflation-budget.ts`): a
 * member's bytes are acquired before it is inflated, its chunks go to `deliver` as soon as they
 * are verified, and the bytes are given back when what `deliver` returns settles (the chunks
 * are in the cache and with their readers). A batch of hundreds of members (prefetch,
 * background fetch) therefore never holds more inflated bytes than the budget, however much
 * its members declare; nothing is collected until the batch ends.
 *
 * Chunks of a shared member that come before the wanted ones are verified and delivered too
 * (see `shared-members.ts`). Each chunk is delivered once: its verified bytes, or the
 * VerificationError / EstargzLimitError of that chunk (naming the layer and the file): one bad
 * member does not fail the good chunks fetched with it. A registry failure fails the whole
 * call, as an UnavailableError; an abort, with the signal's reason (members not yet delivered
 * are then not delivered).
 */
import { UnavailableError } from '../../../core/sdk.js';
import { inflationBytes, readChunk, readChunks } from '../estargz/chunk.js';
import type { LayerFormat } from '../estargz/footer.js';
import type { EstargzLimits } from '../estargz/limits.js';
import type { BlobReader } from '../registry/blob-reader.js';
import { Priority, type Lane, type LayerInflation } from './inflation-budget.js';
import type { SharedMembers } from './shared-members.js';
import type { WantedChunk } from './wanted-chunk.js';

/** What the layer needs of a blob reader (the registry's `BlobReader` is one). */
export type LayerBlobReader = Pick<BlobReader, 'digest' | 'size' | 'readRanges'> & Partial<Pick<BlobReader, 'readTail'>>;

/** One member's chunks, each with its verified bytes or its error. */
export type MemberResults = readonly (readonly [WantedChunk, Buffer | Error])[];

export interface FetchChunksOptions {
  limits: EstargzLimits;
  /** How the layer's members are compressed (default eStargz's gzip). */
  format?: LayerFormat | undefined;
  /** The layer's share of the inflation budget. */
  inflation: LayerInflation;
  /**
   * `foreground` for a container's reads, `background` for prefetch, background fetch and a
   * read's region neighbours; a function: the lane of the member of these chunks.
   */
  lane: Lane | ((group: readonly WantedChunk[]) => Lane);
  /** Called when a member starts waiting for the budget, with its priority (a read that comes to wait for it may promote it). */
  onQueued?: ((group: readonly WantedChunk[], priority: Priority) => void) | undefined;
  /** Takes each member's results; the member's bytes stay charged until the promise settles. */
  deliver: (results: MemberResults) => Promise<void> | void;
  signal?: AbortSignal | undefined;
  shared?: SharedMembers | undefined;
}

export async function fetchChunks(blob: LayerBlobReader, wanted: readonly WantedChunk[], options: FetchChunksOptions): Promise<void> {
  const members = new Map<number, WantedChunk[]>();
  for (const w of wanted) {
    const group = members.get(w.chunk.offset);
    if (group) group.push(w);
    else members.set(w.chunk.offset, [w]);
  }
  const groups = [...members.values()];
  if (options.shared) {
    const have = new Set(wanted.map((w) => w.chunk.chunkDigest));
    for (const group of groups) {
      const end = group.reduce((n, w) => Math.max(n, w.chunk.innerOffset + w.chunk.chunkSize), 0);
      for (const sibling of options.shared.before(group[0]!.chunk.offset, end, have)) {
        have.add(sibling.chunk.chunkDigest);
        group.push(sibling);
      }
    }
  }
  let compressed: (Buffer | undefined)[];
  try {
    compressed = await blob.readRanges(
      groups.map((g) => ({ offset: g[0]!.chunk.offset, length: g[0]!.chunk.compressedSize })),
      options.signal,
    );
  } catch (err) {
    throw registryFailure(blob.digest, err, options.signal);
  }
  // The members wait on the budget under one batch signal: one listener on the caller's
  // (often long-lived) signal per batch, not one per member.
  const batch = new AbortController();
  const onAbort = () => batch.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await inflateGroups(blob.digest, groups, compressed, options, batch.signal);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Each member inflated within the budget and delivered; its compressed bytes dropped when done. */
async function inflateGroups(
  layer: string,
  groups: readonly WantedChunk[][],
  compressed: (Buffer | undefined)[],
  options: FetchChunksOptions,
  signal: AbortSignal,
): Promise<void> {
  const { inflation } = options;
  const opts = { limits: options.limits, format: options.format, layer };
  await Promise.all(
    groups.map(async (group, i) => {
      const lane = new Priority(typeof options.lane === 'function' ? options.lane(group) : options.lane);
      options.onQueued?.(group, lane);
      const lease = await inflation.hold(inflationBytes(group.map((w) => w.chunk), options.format, options.limits), lane, signal);
      try {
        const bytes = compressed[i]!;
        compressed[i] = undefined; // each member's compressed bytes go as soon as it is done
        const results = await inflation.inflating(lane, signal, () => inflateMember(bytes, group, opts));
        await options.deliver(results);
      } finally {
        lease.release();
      }
    }),
  );
}

/** The chunks of one member, each verified or with its error. */
async function inflateMember(bytes: Buffer, group: readonly WantedChunk[], opts: { limits: EstargzLimits; format: LayerFormat | undefined; layer: string }): Promise<MemberResults> {
  try {
    const data = await readChunks(bytes, group.map((w) => w.chunk), { ...opts, path: group[0]!.path });
    return group.map((w, j) => [w, data[j]!] as const);
  } catch (err) {
    if (group.length === 1) return [[group[0]!, err as Error]];
    // Tell the good chunks of a shared member from the bad ones (one at a time: each within
    // the member's window, so within what the member holds).
    const out: (readonly [WantedChunk, Buffer | Error])[] = [];
    for (const w of group) {
      out.push([w, await readChunk(bytes, w.chunk, { ...opts, path: w.path }).catch((e: unknown) => e as Error)]);
    }
    return out;
  }
}

/** The error a failed registry read becomes: the abort reason, or an UnavailableError. */
export function registryFailure(blobDigest: string, err: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return signal.reason as Error;
  if (err instanceof UnavailableError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`blob ${blobDigest}: ${message}`, { cause: err });
}
