/**
 * The mount table of the FUSE-serving process: mountpoint -> the layer served there.
 *
 * `mount` opens the layer (blob reader from reference/digest/urls, footer and TOC fetched and
 * verified by `RemoteLayer.open`; or one opened ahead: layer-supply.ts), mounts its file system
 * on an existing empty directory with the configured FUSE transport (`fs.transport`:
 * fs/transport.ts) and starts the prefetch in the background (mount-prefetch.ts);
 * `unmount` detaches it lazily (open files keep working until closed) and keeps the opened
 * layer a while for a re-pull.
 * Operations on one mountpoint run one after the other.
 *
 * This process serves the mounts, so it never stats or lists a mountpoint once something may
 * be mounted there: what is mounted where comes from /proc/self/mountinfo
 * (unserved-mountpoint.ts).
 *
 * `snapshot()` is the seam for persistence (issue 5): the requests of every mount as plain
 * JSON, enough to mount them all again after a restart.
 *
 * `check()` answers whether each layer can be read in full now (layer-availability.ts);
 * `metrics()` what the process did so far (process-metrics.ts).
 * `releaseVanished()` forgets a layer whose mount was removed from outside (outside-watch.ts).
 * A mounted layer is handed to the background fetcher (when there is one), which fetches the
 * whole layer into the cache while no foreground read needs the registry.
 */
import { FailedPreconditionError, type Logger } from '../../../core/sdk.js';
import { isMountedAt, KeyedLock, readMountTable } from '../../../core/sdk-overlay.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import { FUSE_SUBTYPE, fsnameOf } from '../fs/layer-fsname.js';
import { mountLayer, type MountedLayer } from '../fs/transport.js';
import type { KeeperLink } from '../fuse-kernel/keeper/keeper-link.js';
import { StateSync } from '../fuse-kernel/passthrough/state-sync.js';
import { keepConnection } from './keep-connection.js';
import type { KernelMount } from '../fuse-kernel/mount-kernel.js';
import type { LayerReader } from '../fs/layer-fs.js';
import { abortable } from '../layer/in-flight.js';
import type { ProbeResult } from '../registry/probe-blob.js';
import type { LayerCheck, Metrics, MountInfo, MountRequest, OpenRequest } from '../protocol/control-protocol.js';
import type { FusedConfig } from '../protocol/fused-config.js';
import { LatencyHistogram } from './latency-histogram.js';
import { checkLayer } from './layer-availability.js';
import { LayerSupply, type OpenLayer } from './layer-supply.js';
import { startPrefetch } from './mount-prefetch.js';
import type { ExpectedMount } from './outside-watch.js';
import { metricsOf, type ServedCounters } from './process-metrics.js';
import { Reachability } from './reachability.js';
import { infoOf, type BackgroundFetch, type Served, type ServedLayer } from './served-layer.js';
import { timedReader } from './timed-reader.js';
import { checkFreeMountpoint, detachStaleMount } from './unserved-mountpoint.js';

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
  /** The connection keeper (fuse-kernel/keeper/): each kernel-transport mount is announced to it, each unmount released. */
  keeper?: KeeperLink | undefined;
}

/** A registry probe's answer is reused this long. */
const REACHABILITY_TTL_MS = 3_000;

export class ServedMounts<L extends ServedLayer> {
  readonly #mounts = new Map<string, Served<L>>();
  /** Operations on one mountpoint run one after the other. */
  readonly #queue = new KeyedLock();
  readonly #config: FusedConfig;
  readonly #log: Logger;
  readonly #supply: LayerSupply<L>;
  readonly #cache: Pick<ChunkCache, 'stats'> | undefined;
  readonly #probe: (r: MountRequest) => Promise<ProbeResult>;
  readonly #reachability: Reachability;
  readonly #background: BackgroundFetch<L> | undefined;
  readonly #counters: ServedCounters;
  readonly #keeper: KeeperLink | undefined;
  readonly #readLatency = new LatencyHistogram();
  /** Layer mounts found removed from outside and released. */
  #vanished = 0;

  constructor(deps: ServedMountsDeps<L>) {
    this.#config = deps.config;
    this.#log = deps.log;
    this.#cache = deps.cache;
    this.#probe = deps.probe;
    this.#counters = deps.counters ?? { registryBytes: 0, registryReads: 0 };
    this.#reachability = new Reachability({ ttlMs: deps.reachabilityTtlMs ?? REACHABILITY_TTL_MS });
    this.#background = deps.background;
    this.#keeper = deps.keeper;
    this.#supply = new LayerSupply({ openLayer: deps.openLayer, reachability: this.#reachability, log: deps.log });
  }

  get size(): number {
    return this.#mounts.size;
  }

  mount(request: MountRequest, signal: AbortSignal): Promise<MountInfo> {
    return this.#queue.run(request.mountpoint, () => this.#mount(request, signal));
  }

  /**
   * A mount of this layer is on its way (`POST /v1/open`): its footer and TOC are fetched and
   * indexed now, and the layers above it opened ahead; the mount takes the opened layer. False
   * when the layer is served (or kept after an unmount) already.
   */
  open(request: OpenRequest): boolean {
    const skip = this.#servedOrKept(request.reference);
    if (skip(request.digest)) return false;
    this.#supply.announce(request, skip);
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
    return this.#queue.run(mountpoint, () => this.#releaseVanished(mountpoint));
  }

  /** True when something was unmounted. */
  unmount(mountpoint: string): Promise<boolean> {
    return this.#queue.run(mountpoint, () => this.#unmount(mountpoint));
  }

  list(): MountInfo[] {
    return [...this.#mounts.values()].map((s) => infoOf(s, this.#background));
  }

  /**
   * Whether each layer can be read in full now: served, and every chunk cached or its
   * registry reachable (memoized probe, see reachability.ts). Answers in the order asked.
   */
  check(mountpoints: readonly string[], signal: AbortSignal): Promise<LayerCheck[]> {
    // One abort listener for the request, not one per layer (up to 1024 on one signal).
    return abortable(Promise.all(mountpoints.map((mp) => checkLayer(mp, this.#mounts.get(mp), this.#reachability, this.#probe))), signal);
  }

  /** Counters and gauges of the process (cheap: no registry traffic, no walk of the cache). */
  metrics(): Metrics {
    return metricsOf({
      cache: this.#cache,
      counters: this.#counters,
      readLatency: this.#readLatency,
      probes: this.#reachability.probes,
      vanishedMounts: this.#vanished,
    });
  }

  /** The requests of every mount, as plain JSON (to restore them after a restart). */
  snapshot(): MountRequest[] {
    return [...this.#mounts.values()].filter((s) => s.state === 'mounted').map((s) => ({ ...s.request }));
  }

  /** Unmount everything (lazily); for shutdown. */
  async unmountAll(): Promise<void> {
    this.#supply.clear();
    await Promise.all(
      [...this.#mounts.keys()].map((mp) =>
        this.unmount(mp).catch((err: unknown) => this.#log.error({ err, mountpoint: mp }, 'unmount at shutdown failed')),
      ),
    );
  }

  async #mount(request: MountRequest, signal: AbortSignal): Promise<MountInfo> {
    const { mountpoint, digest } = request;
    const existing = this.#mounts.get(mountpoint);
    if (existing) {
      if (existing.request.digest === digest && existing.request.reference === request.reference) return infoOf(existing, this.#background);
      throw new FailedPreconditionError(`${mountpoint} already serves layer ${existing.request.digest} of ${existing.request.reference}`);
    }
    await checkFreeMountpoint(mountpoint);
    const log = this.#log.child({ mountpoint, layer: digest });
    const started = Date.now();
    const { layer, openedAhead } = await this.#supply.take(request, signal, this.#servedOrKept(request.reference));
    signal.throwIfAborted();
    const openMs = Date.now() - started;
    const { transport, readTimeoutMs, passthrough } = this.#config.fs;
    const sync = new StateSync(); // the keeper is told which inodes are passed through (passthrough-state.ts)
    const mounted = await mountLayer(mountpoint, timedReader(layer, this.#readLatency), digest, { transport, readTimeoutMs, passthrough, onPassthroughChange: sync.changed, log });
    if (signal.aborted) {
      await mounted.fuse.unmount().catch((err: unknown) => log.error({ err }, 'unmount after a cancelled mount failed'));
      throw signal.reason;
    }
    // Before the mount is reported done: from then on it survives a crash of this process.
    if (this.#keeper && 'fd' in mounted.fuse) await keepConnection(this.#keeper, mounted.fuse as KernelMount, request, sync, () => this.serves(mounted.fuse), log);
    const served = this.#register(request, layer, mounted, log);
    log.info(
      { reference: request.reference, tocDigest: layer.tocDigest, nodes: layer.index.size, transport, openedAhead, openMs, ms: Date.now() - started },
      'layer mounted',
    );
    return infoOf(served, this.#background);
  }

  /** A layer connection taken over from a previous process (take-over-connections.ts), served already, joins the table. */
  adopt(request: MountRequest, layer: L, mounted: MountedLayer): void {
    this.#register(request, layer, mounted, this.#log.child({ mountpoint: request.mountpoint, layer: request.digest }));
  }

  /** Whether `fuse` is a mount this process serves now (not unmounted, not vanished). */
  serves(fuse: MountedLayer['fuse']): boolean {
    return [...this.#mounts.values()].some((m) => m.fuse === fuse && m.state === 'mounted');
  }

  /** The reader a mount of this process serves `layer` through (read latencies recorded). */
  reader(layer: L): LayerReader {
    return timedReader(layer, this.#readLatency);
  }

  #register(request: MountRequest, layer: L, { fuse, counters }: MountedLayer, log: Logger): Served<L> {
    const served: Served<L> = {
      request: { ...request },
      state: 'mounted',
      layer,
      counters,
      fuse,
      mountedAt: new Date(),
      prefetch: { state: 'none', files: 0, bytes: 0 },
      stopPrefetch: new AbortController(),
    };
    this.#mounts.set(request.mountpoint, served);
    startPrefetch(served, this.#config.prefetch, log);
    this.#background?.add(request.mountpoint, layer);
    return served;
  }

  /** Layers of `reference` not to open ahead: served, or kept after an unmount (layer-supply.ts). */
  #servedOrKept(reference: string): (digest: string) => boolean {
    return (digest) => this.#serves(reference, digest) || this.#supply.kept(reference, digest);
  }

  #serves(reference: string, digest: string): boolean {
    for (const s of this.#mounts.values()) if (s.request.digest === digest && s.request.reference === reference) return true;
    return false;
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
      await this.#keeper?.release(mountpoint);
      this.#supply.keep(served.request, served.layer);
      this.#log.info({ mountpoint, layer: served.request.digest }, 'layer unmounted');
      return true;
    }
    // Not ours: a mount of this file system left by a process that died (its requests now fail
    // with ENOTCONN) is detached; anything else is not touched.
    return detachStaleMount(mountpoint, this.#log);
  }

  async #releaseVanished(mountpoint: string): Promise<boolean> {
    const served = this.#mounts.get(mountpoint);
    if (!served || served.state !== 'mounted') return false;
    const { digest, reference } = served.request;
    if (isMountedAt(await readMountTable(), mountpoint, `fuse.${FUSE_SUBTYPE}`, fsnameOf(digest))) return false;
    served.stopPrefetch.abort(new Error('the layer mount was removed from outside'));
    this.#background?.remove(mountpoint);
    this.#mounts.delete(mountpoint);
    await this.#keeper?.release(mountpoint);
    this.#vanished++;
    this.#log.warn(
      { mountpoint, layer: digest, reference, mounts: this.#mounts.size },
      `the mount of layer ${digest} at ${mountpoint} was removed from outside (umount -l, or a cleanup); released the layer`,
    );
    return true;
  }
}
