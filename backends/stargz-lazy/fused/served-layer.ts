/**
 * A layer served at a mountpoint: what a mount needs of the layer, the record the mount table
 * (served-mounts.ts) keeps of it, and how it is described to clients (`MountInfo`).
 */
import type { LayerFormat } from '../estargz/footer.js';
import type { FuseMount } from '../fs/fuse-mount.js';
import type { LayerReader } from '../fs/layer-fs.js';
import type { ReadCounters } from '../fuse-kernel/file-reads.js';
import type { BackgroundState, MountInfo, MountRequest, MountState, PrefetchState } from '../protocol/control-protocol.js';

/** What a mount needs of a layer: the file system's reader, prefetch, and how much of it is cached. */
export interface ServedLayer extends LayerReader {
  readonly tocDigest: string;
  /** The layer's format (its footer's): `estargz`, `legacy-stargz` or `zstd:chunked`. */
  readonly format: LayerFormat;
  prefetch(o: { maxBytes: number; timeoutMs: number; signal?: AbortSignal }): Promise<{ files: number; bytes: number; complete: boolean }>;
  /** Uncompressed bytes of file contents whose chunks are in the cache, and in total. */
  progress(): { fetchedBytes: number; totalBytes: number };
}

/** What the mount table needs of the background fetcher (`layer/background-fetcher.ts`). */
export interface BackgroundFetch<L> {
  add(key: string, layer: L): void;
  remove(key: string): void;
  progress(key: string): { state: BackgroundState; fetchedBytes: number; totalBytes: number } | undefined;
}

/** One mount of the table. */
export interface Served<L extends ServedLayer> {
  request: MountRequest;
  state: MountState;
  layer: L;
  /** Reads served through the mount (fs/transport.ts). */
  counters: ReadCounters;
  fuse: FuseMount;
  mountedAt: Date;
  prefetch: { state: PrefetchState; files: number; bytes: number };
  stopPrefetch: AbortController;
}

/** How a mount is described to clients (`GET /v1/mounts`, a mount's answer). */
export function infoOf<L extends ServedLayer>(s: Served<L>, background: BackgroundFetch<L> | undefined): MountInfo {
  const info: MountInfo = {
    mountpoint: s.request.mountpoint,
    digest: s.request.digest,
    reference: s.request.reference,
    tocDigest: s.layer.tocDigest,
    format: s.layer.format,
    state: s.state,
    prefetch: { ...s.prefetch },
    mountedAt: s.mountedAt.toISOString(),
    reads: s.counters.reads,
    bytesRead: s.counters.bytesRead,
    readErrors: s.counters.readErrors,
    ...s.layer.progress(),
  };
  const progress = background?.progress(s.request.mountpoint);
  if (progress) info.background = { state: progress.state, fetchedBytes: progress.fetchedBytes, totalBytes: progress.totalBytes };
  return info;
}
