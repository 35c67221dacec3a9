/**
 * Fetching chunks that are not cached: ONE `readRanges` call for all of them (the reader
 * merges touching members into spans and sends them as one multi-range GET), then each gzip
 * member inflated once for all its chunks (several chunks may share a member) and every chunk
 * verified against its digest.
 *
 * Chunks of a shared member that come before the wanted ones are verified and returned too
 * (see `shared-members.ts`). The result holds, per chunk digest, the verified bytes or the
 * VerificationError of that chunk: one bad member does not fail the good chunks fetched with it. A registry failure
 * fails the whole call, as an UnavailableError.
 */
import { UnavailableError } from '../../../core/sdk.js';
import { readChunk, readChunks } from '../estargz/chunk.js';
import type { EstargzLimits } from '../estargz/limits.js';
import type { ChunkRef } from '../estargz/layer-node.js';
import type { BlobReader } from '../registry/blob-reader.js';
import type { SharedMembers } from './shared-members.js';

/** What the layer needs of a blob reader (the registry's `BlobReader` is one). */
export type LayerBlobReader = Pick<BlobReader, 'digest' | 'size' | 'readRanges'> & Partial<Pick<BlobReader, 'readTail'>>;

/** A chunk to fetch, with the file it belongs to (for messages). */
export interface WantedChunk {
  chunk: ChunkRef;
  path: string;
}

export async function fetchChunks(
  blob: LayerBlobReader,
  wanted: readonly WantedChunk[],
  options: { limits: EstargzLimits; signal?: AbortSignal | undefined; shared?: SharedMembers | undefined },
): Promise<Map<string, Buffer | Error>> {
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
  let compressed: Buffer[];
  try {
    compressed = await blob.readRanges(
      groups.map((g) => ({ offset: g[0]!.chunk.offset, length: g[0]!.chunk.compressedSize })),
      options.signal,
    );
  } catch (err) {
    throw registryFailure(blob.digest, err, options.signal);
  }
  const out = new Map<string, Buffer | Error>();
  await Promise.all(
    groups.map(async (group, i) => {
      const bytes = compressed[i]!;
      const opts = { limits: options.limits, path: group[0]!.path };
      try {
        const data = await readChunks(bytes, group.map((w) => w.chunk), opts);
        group.forEach((w, j) => out.set(w.chunk.chunkDigest, data[j]!));
      } catch (err) {
        if (group.length === 1) {
          out.set(group[0]!.chunk.chunkDigest, err as Error);
          return;
        }
        // Tell the good chunks of a shared member from the bad ones.
        for (const w of group) {
          out.set(
            w.chunk.chunkDigest,
            await readChunk(bytes, w.chunk, { limits: options.limits, path: w.path }).catch((e: unknown) => e as Error),
          );
        }
      }
    }),
  );
  return out;
}

/** The error a failed registry read becomes: the abort reason, or an UnavailableError. */
export function registryFailure(blobDigest: string, err: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return signal.reason as Error;
  if (err instanceof UnavailableError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`blob ${blobDigest}: ${message}`, { cause: err });
}
