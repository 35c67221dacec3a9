/**
 * The mount table of the FUSE-serving process: mountpoint -> the layer served there.
 *
 * `mount` opens the layer (blob reader from reference/digest/urls, footer and TOC fetched and
 * verified by `RemoteLayer.open`), mounts its file system on an existing empty directory and
 * starts the prefetch in the background; `unmount` detaches it lazily (open files keep working
 * until closed) and keeps the opened layer a while for a re-pull (recent-layers.ts).
 * Operations on one mountpoint run one after the other.
 *
 * This process serves the mounts, so it never stats or lists a mountpoint once something may
 * be mounted there: what is mounted where comes from /proc/self/mountinfo.
 *
 * `snapshot()` is the seam for persistence (issue 5): the requests of every mount as plain
 * JSON, enough to mount them all again after a restart.
 *
 * `check()` answers whether each layer can be read in full now (every chunk cached, or its
 * registry reachable: a memoized, bounded probe); `metrics()` what the process did so far.
 * `releaseVanished()` forgets a layer whose mount was removed from outside (outside-watch.ts).
 * A mounted layer is handed to the background fetcher (when there is one), which fetches the
 * whole layer into the cache while no foreground read needs the registry.
 */
import { lstat, readdir } from 'node:fs/promises';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, type Logger } from '../../../core/sdk.js';
import { detachMount, isMountedAt, mountAt, readMountTable } from '../../../core/sdk-overlay.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import { FUSE_SUBTYPE, fsnameOf, mountLayerFs, type FuseMount } from '../fs/fuse-mount.js';
import { LayerFs, type LayerReader } from '../fs/layer-fs.js';
import { abortable } from '../layer/in-flight.js';
import { parseReference } from '../registry/reference.js';
import type { ProbeResult } from '../registry/probe-blob.js';
import type { BackgroundState, LayerCheck, Metrics, MountInfo, MountRequest, MountState, OpenRequest, PrefetchState } from '../protocol/control-protocol.js';
import type { FusedConfig } from '../protocol/fused-config.js';
import { LatencyHistogram } from './latency-histogram.js';
import { ForegroundFirst } from './foreground-first.js';
import { LayersAhead } from './layers-ahead.js';
import type { ExpectedMount } from './outside-watch.js';
import { Reachability, type ReachabilityTarget } from './reachability.js';
import { RecentLayers } from './recent-layers.js';
import { timedReader } from './timed-reader.js';
import { percent } from '../protocol/percent.js';

/** What a mount needs of a layer: the file system's reader, prefetch, and how much of it is cached. */
export interface ServedLayer extends LayerReader {
  readonly tocDigest: string;
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

/** Counters the layer opener feeds (remote-opener.ts), reported by `metrics()`. */
export interface ServedCounters {
  /** Blob bytes received from registries. */
  registryBytes: number;
  /** File reads that had to wait for the registry. */
  registryReads: number;
}

export type OpenLayer<L> = (r: MountRequest, signal: AbortSignal, beforeIndex?: () => Promise<void>) => Promise<L>;

export interface ServedMountsDeps<L extends ServedLayer> {
  config: FusedConfig;
  log: Logger;
  /**
   * Opens a layer (remote-opener.ts: from the registry through the chunk cache). With
   * `beforeIndex`, the TOC is indexed only once that resolves (its footer and TOC are fetched
   * at once).
   */
  openLayer: OpenLayer<L>;
  /** Is the blob of a mount reachable now? (remote-opener.ts: one bounded HEAD.) */
  probe: (r: MountRequest) => Promise<ProbeResult>;
  /** The chunk cache, for its statistics. */
  cache?: Pick<ChunkCache, 'stats'> | undefined;
  counters?: ServedCounters | undefined;
  /** Fetches whole layers in the background; absent: off. */
  background?: BackgroundFetch<L> | undefined;
  /** How long a probe's answer is reused (default 3 s). */
  reachabilityTtlMs?: number;
}

/** Layers above a mounted one opened ahead at a time, and how long one waits for its mount. */
const OPEN_AHEAD = 3;
const OPEN_AHEAD_TTL_MS = 60_000;
/** Layers kept opened after their unmount (for a re-pull), and for how long. */
const RECENT_LAYERS = 16;
const RECENT_LAYERS_TTL_MS = 10 * 60_000;
/** A registry probe's answer is reused this long. */
const REACHABILITY_TTL_MS = 3_000;

interface Served<L extends ServedLayer> {
  request: MountRequest;
  state: MountState;
  layer: L;
  fs: LayerFs;
  fuse: FuseMount;
  mountedAt: Date;
  prefetch: { state: PrefetchState; files: number; bytes: number };
  stopPrefetch: AbortController;
}

export class ServedMounts<L extends ServedLayer> {
  readonly #mounts = new Map<string, Served<L>>();
  /** The last operation queued per mountpoint. */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #config: FusedConfig;
  readonly #log: Logger;
  readonly #openLayer: OpenLayer<L>;
  /** A mount's own open is indexed before the layers opened ahead. */
  readonly #foreground = new ForegroundFirst();
  readonly #ahead: LayersAhead<L>;
  readonly #recent: RecentLayers<L>;
  readonly #cache: Pick<ChunkCache, 'stats'> | undefined;
  readonly #probe: (r: MountRequest) => Promise<ProbeResult>;
  readonly #reachability: Reachability;
  readonly #background: BackgroundFetch<L> | undefined;
  readonly #counters: ServedCounters;
  readonly #readLatency = new LatencyHistogram();
  /** Layer mounts found removed from outside and released. */
  #vanished = 0;

  constructor(deps: ServedMountsDeps<L>) {
    this.#config = deps.config;
    this.#log = deps.log;
    this.#cache = deps.cache;
    this.#openLayer = deps.openLayer;
    this.#probe = deps.probe;
    this.#counters = deps.counters ?? { registryBytes: 0, registryReads: 0 };
    this.#reachability = new Reachability({ ttlMs: deps.reachabilityTtlMs ?? REACHABILITY_TTL_MS });
    this.#background = deps.background;
    this.#ahead = new LayersAhead({
      // A layer opened ahead just had its footer and TOC from the registry, as a mount's own open.
      open: (r, signal, taken, urgent) =>
        (urgent ? this.#foreground.run(() => this.#openLayer(r, signal)) : this.#openLayer(r, signal, () => this.#foreground.idle(taken))).then((layer) => {
          this.#reachability.noteReachable(reachabilityTarget(r));
          return layer;
        }),
      tocDigestOf: (l) => l.tocDigest,
      log: deps.log,
      ahead: OPEN_AHEAD,
      ttlMs: OPEN_AHEAD_TTL_MS,
    });
    this.#recent = new RecentLayers({ tocDigestOf: (l) => l.tocDigest, max: RECENT_LAYERS, ttlMs: RECENT_LAYERS_TTL_MS });
  }

  get size(): number {
    return this.#mounts.size;
  }

  mount(request: MountRequest, signal: AbortSignal): Promise<MountInfo> {
    return this.#serialized(request.mountpoint, () => this.#mount(request, signal));
  }

  /**
   * A mount of this layer is on its way (`POST /v1/open`): its footer and TOC are fetched and
   * indexed now, and the layers above it opened ahead; the mount takes the opened layer. False
   * when the layer is served (or kept after an unmount) already.
   */
  open(request: OpenRequest): boolean {
    const skip = this.#servedOrKept(request.reference);
    if (skip(request.digest)) return false;
    this.#ahead.first({ ...request, mountpoint: '/' }, skip);
    return true;
  }

  /** The mounts served now, with what /proc/self/mountinfo must show for each. */
  mounted(): ExpectedMount[] {
    const out: ExpectedMount[] = [];
    for (const s of this.#mounts.values()) {
      if (s.state === 'mounted') out.push({ mountpoint: s.request.mountpoint, fstype: `fuse.${FUSE_SUBTYPE}`, source: fsnameOf(s.request.digest) });
    }
    return out;
  }

  /**
   * The mount at `mountpoint` was removed from outside (`umount -l`, a crashed cleanup): once
   * the mount table confirms it (after any operation queued on that mountpoint), the layer is
   * released: its prefetch and background fetch stop, it leaves the table (so the idle exit
   * can come) and is not kept for a re-pull, and it is counted (`vanishedMounts`). Files a
   * container still holds open in the detached mount keep being answered until the process
   * exits. True when a layer was released.
   */
  releaseVanished(mountpoint: string): Promise<boolean> {
    return this.#serialized(mountpoint, () => this.#releaseVanished(mountpoint));
  }

  /** True when something was unmounted. */
  unmount(mountpoint: string): Promise<boolean> {
    return this.#serialized(mountpoint, () => this.#unmount(mountpoint));
  }

  list(): MountInfo[] {
    return [...this.#mounts.values()].map((s) => this.#infoOf(s));
  }

  /**
   * Whether each layer can be read in full now: served, and every chunk cached or its
   * registry reachable (memoized probe, see reachability.ts). Answers in the order asked.
   */
  check(mountpoints: readonly string[], signal: AbortSignal): Promise<LayerCheck[]> {
    // One abort listener for the request, not one per layer (up to 1024 on one signal).
    return abortable(Promise.all(mountpoints.map((mp) => this.#checkOne(mp))), signal);
  }

  /** Counters and gauges of the process (cheap: no registry traffic, no walk of the cache). */
  metrics(): Metrics {
    const stats = this.#cache?.stats();
    return {
      registryBytes: this.#counters.registryBytes,
      registryReads: this.#counters.registryReads,
      cache: {
        hits: (stats?.memoryHits ?? 0) + (stats?.diskHits ?? 0),
        misses: stats?.misses ?? 0,
        memoryBytes: stats?.memoryBytes ?? 0,
        diskBytes: stats?.diskBytes ?? 0,
        diskLimitBytes: stats?.diskLimitBytes ?? 0,
        evictions: stats?.evictions ?? 0,
      },
      readLatency: this.#readLatency.snapshot(),
      probes: this.#reachability.probes,
      vanishedMounts: this.#vanished,
    };
  }

  /** The requests of every mount, as plain JSON (to restore them after a restart). */
  snapshot(): MountRequest[] {
    return [...this.#mounts.values()].filter((s) => s.state === 'mounted').map((s) => ({ ...s.request }));
  }

  /** Unmount everything (lazily); for shutdown. */
  async unmountAll(): Promise<void> {
    this.#ahead.clear();
    this.#recent.clear();
    await Promise.all(
      [...this.#mounts.keys()].map((mp) =>
        this.unmount(mp).catch((err: unknown) => this.#log.error({ err, mountpoint: mp }, 'unmount at shutdown failed')),
      ),
    );
  }

  async #checkOne(mountpoint: string): Promise<LayerCheck> {
    const s = this.#mounts.get(mountpoint);
    if (!s || s.state !== 'mounted') {
      return { mountpoint, served: false, available: false, reason: 'not served by the FUSE-serving process', fetchedBytes: 0, totalBytes: 0 };
    }
    const { digest, reference } = s.request;
    const { fetchedBytes, totalBytes } = s.layer.progress();
    const base = { mountpoint, served: true, digest, reference, fetchedBytes, totalBytes };
    if (fetchedBytes >= totalBytes) return { ...base, available: true };
    const r = await this.#reachability.check(reachabilityTarget(s.request), () => this.#probe(s.request));
    if (r.reachable) return { ...base, available: true };
    // "percent", not "%": containerd formats an error's text as a format string (errdefs.FromGRPC).
    const cached = percent(fetchedBytes, totalBytes);
    return { ...base, available: false, reason: `${r.reason}; ${cached} percent of the layer is cached` };
  }

  async #mount(request: MountRequest, signal: AbortSignal): Promise<MountInfo> {
    const { mountpoint, digest } = request;
    const existing = this.#mounts.get(mountpoint);
    if (existing) {
      if (existing.request.digest === digest && existing.request.reference === request.reference) return this.#infoOf(existing);
      throw new FailedPreconditionError(`${mountpoint} already serves layer ${existing.request.digest} of ${existing.request.reference}`);
    }
    const mounted = await mountAt(mountpoint);
    if (mounted) {
      throw new FailedPreconditionError(
        `${mountpoint} is already a mount point (${mounted.fstype} from ${mounted.source}); unmount it first`,
      );
    }
    await checkEmptyDir(mountpoint);
    const log = this.#log.child({ mountpoint, layer: digest });
    const started = Date.now();
    // This layer leaves the opened-ahead set at once (`take`), then the layers above it are
    // fetched and opened while this one is: their requests overlap.
    const taking = this.#ahead.take(request);
    this.#ahead.start(request, this.#servedOrKept(request.reference));
    const ahead = (await abortable(taking, signal)) ?? this.#recent.take(request);
    const layer = ahead ?? (await this.#foreground.run(() => this.#openLayer(request, signal)));
    // Its footer and TOC just came from the registry: the check of the next prepare (on this
    // layer as its parent) need not ask again (a layer opened ahead was noted when it opened).
    if (ahead === undefined) this.#reachability.noteReachable(reachabilityTarget(request));
    signal.throwIfAborted();
    const openMs = Date.now() - started;
    const fs = new LayerFs({ layer: timedReader(layer, this.#readLatency), digest, log, readTimeoutMs: this.#config.fs.readTimeoutMs });
    const fuse = await mountLayerFs(mountpoint, fs, digest, { opTimeoutMs: this.#config.fs.readTimeoutMs + 10_000, log });
    if (signal.aborted) {
      await fuse.unmount().catch((err: unknown) => log.error({ err }, 'unmount after a cancelled mount failed'));
      throw signal.reason;
    }
    const served: Served<L> = {
      request: { ...request },
      state: 'mounted',
      layer,
      fs,
      fuse,
      mountedAt: new Date(),
      prefetch: { state: 'none', files: 0, bytes: 0 },
      stopPrefetch: new AbortController(),
    };
    this.#mounts.set(mountpoint, served);
    log.info(
      { reference: request.reference, tocDigest: layer.tocDigest, nodes: layer.index.size, openedAhead: ahead !== undefined, openMs, ms: Date.now() - started },
      'layer mounted',
    );
    this.#startPrefetch(served, log);
    this.#background?.add(mountpoint, layer);
    return this.#infoOf(served);
  }

  /** Layers of `reference` not to open ahead: served, or kept after an unmount (`#recent`). */
  #servedOrKept(reference: string): (digest: string) => boolean {
    return (digest) => this.#serves(reference, digest) || this.#recent.has(reference, digest);
  }

  #serves(reference: string, digest: string): boolean {
    for (const s of this.#mounts.values()) if (s.request.digest === digest && s.request.reference === reference) return true;
    return false;
  }

  #startPrefetch(served: Served<L>, log: Logger): void {
    const maxBytes = Math.min(served.request.prefetchBytes ?? 0, this.#config.prefetch.maxBytes);
    if (maxBytes <= 0 || served.layer.index.prefetch.landmark !== 'prefetch') return;
    served.prefetch.state = 'running';
    const started = Date.now();
    served.layer
      .prefetch({ maxBytes, timeoutMs: this.#config.prefetch.timeoutMs, signal: served.stopPrefetch.signal })
      .then(
        (r) => {
          served.prefetch = { state: r.complete ? 'complete' : 'partial', files: r.files, bytes: r.bytes };
          log.info({ ...r, ms: Date.now() - started }, r.complete ? 'prefetch complete' : 'prefetch stopped early');
        },
        (err: unknown) => {
          served.prefetch.state = 'failed';
          if (!served.stopPrefetch.signal.aborted) log.warn({ err }, 'prefetch failed; files are fetched on first read');
        },
      );
  }

  async #unmount(mountpoint: string): Promise<boolean> {
    const served = this.#mounts.get(mountpoint);
    if (served) {
      served.state = 'unmounting';
      served.stopPrefetch.abort(new Error('unmounted'));
      try {
        await served.fuse.unmount();
      } catch (err) {
        served.state = 'mounted';
        throw err;
      }
      this.#background?.remove(mountpoint);
      this.#mounts.delete(mountpoint);
      this.#recent.put(served.request, served.layer);
      this.#log.info({ mountpoint, layer: served.request.digest, openFiles: served.fs.openFiles }, 'layer unmounted');
      return true;
    }
    // Not ours: a mount of this file system left by a process that died (its requests now fail
    // with ENOTCONN) is detached; anything else is not touched.
    const stale = await mountAt(mountpoint);
    if (!stale) return false;
    if (stale.fstype !== `fuse.${FUSE_SUBTYPE}`) {
      throw new FailedPreconditionError(`${mountpoint} is a ${stale.fstype} mount this process does not serve; not unmounting it`);
    }
    await detachMount(mountpoint, { canonicalize: true });
    this.#log.info({ mountpoint, source: stale.source }, 'detached a stale layer mount');
    return true;
  }

  async #releaseVanished(mountpoint: string): Promise<boolean> {
    const served = this.#mounts.get(mountpoint);
    if (!served || served.state !== 'mounted') return false;
    const { digest, reference } = served.request;
    if (isMountedAt(await readMountTable(), mountpoint, `fuse.${FUSE_SUBTYPE}`, fsnameOf(digest))) return false;
    served.stopPrefetch.abort(new Error('the layer mount was removed from outside'));
    this.#background?.remove(mountpoint);
    this.#mounts.delete(mountpoint);
    this.#vanished++;
    this.#log.warn(
      { mountpoint, layer: digest, reference, openFiles: served.fs.openFiles, mounts: this.#mounts.size },
      `the mount of layer ${digest} at ${mountpoint} was removed from outside (umount -l, or a cleanup); released the layer`,
    );
    return true;
  }

  #serialized<T>(mountpoint: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(mountpoint) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(mountpoint, settled);
    void settled.then(() => {
      if (this.#queues.get(mountpoint) === settled) this.#queues.delete(mountpoint);
    });
    return run;
  }

  #infoOf(s: Served<L>): MountInfo {
    const info: MountInfo = {
      mountpoint: s.request.mountpoint,
      digest: s.request.digest,
      reference: s.request.reference,
      tocDigest: s.layer.tocDigest,
      state: s.state,
      prefetch: { ...s.prefetch },
      mountedAt: s.mountedAt.toISOString(),
      reads: s.fs.counters.reads,
      bytesRead: s.fs.counters.bytesRead,
      readErrors: s.fs.counters.readErrors,
      ...s.layer.progress(),
    };
    const background = this.#background?.progress(s.request.mountpoint);
    if (background) info.background = { state: background.state, fetchedBytes: background.fetchedBytes, totalBytes: background.totalBytes };
    return info;
  }
}

async function checkEmptyDir(mountpoint: string): Promise<void> {
  let st;
  try {
    st = await lstat(mountpoint);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`mountpoint ${mountpoint} does not exist`);
    throw err;
  }
  if (!st.isDirectory()) throw new InvalidArgumentError(`mountpoint ${mountpoint} is not a directory`);
  const entries = await readdir(mountpoint);
  if (entries.length > 0) throw new FailedPreconditionError(`mountpoint ${mountpoint} is not empty`);
}

/** The key under which a layer's blob reachability is remembered (see reachability.ts). */
function reachabilityTarget(r: MountRequest): ReachabilityTarget {
  const ref = parseReference(r.reference, 'reference');
  return { host: ref.host, key: `${ref.host}/${ref.repository}@${r.digest}` };
}
