/**
 * The mount table of the FUSE-serving process: mountpoint -> the layer served there.
 *
 * `mount` opens the layer (blob reader from reference/digest/urls, footer and TOC fetched and
 * verified by `RemoteLayer.open`), mounts its file system on an existing empty directory and
 * starts the prefetch in the background; `unmount` detaches it lazily (open files keep working
 * until closed) and forgets it. Operations on one mountpoint run one after the other.
 *
 * This process serves the mounts, so it never stats or lists a mountpoint once something may
 * be mounted there: what is mounted where comes from /proc/self/mountinfo.
 *
 * `snapshot()` is the seam for persistence (issue 5): the requests of every mount as plain
 * JSON, enough to mount them all again after a restart.
 */
import { lstat, readdir } from 'node:fs/promises';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, runCommand, type Logger } from '../../../core/sdk.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import { FUSE_SUBTYPE, mountLayerFs, type FuseMount } from '../fs/fuse-mount.js';
import { LayerFs, type LayerReader } from '../fs/layer-fs.js';
import { abortable } from '../layer/in-flight.js';
import { RemoteLayer } from '../layer/remote-layer.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { parseReference } from '../registry/reference.js';
import type { MountInfo, MountRequest, MountState, PrefetchState } from './control-protocol.js';
import type { FusedConfig } from './fused-config.js';
import { LayersAhead } from './layers-ahead.js';
import { mountAt } from './mountinfo.js';

/** What a mount needs of a layer: the file system's reader, and prefetch. */
export interface ServedLayer extends LayerReader {
  readonly tocDigest: string;
  prefetch(o: { maxBytes: number; timeoutMs: number; signal?: AbortSignal }): Promise<{ files: number; bytes: number; complete: boolean }>;
}

export interface ServedMountsDeps {
  config: FusedConfig;
  log: Logger;
  /** Opens a layer; the default reads it from the registry through the chunk cache. */
  openLayer?: (r: MountRequest, signal: AbortSignal) => Promise<ServedLayer>;
  registry?: RegistryClient;
  cache?: ChunkCache;
}

/** Layers above a mounted one opened ahead at a time, and how long one waits for its mount. */
const OPEN_AHEAD = 3;
const OPEN_AHEAD_TTL_MS = 60_000;

interface Served {
  request: MountRequest;
  state: MountState;
  layer: ServedLayer;
  fs: LayerFs;
  fuse: FuseMount;
  mountedAt: Date;
  prefetch: { state: PrefetchState; files: number; bytes: number };
  stopPrefetch: AbortController;
}

export class ServedMounts {
  readonly #mounts = new Map<string, Served>();
  /** The last operation queued per mountpoint. */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #config: FusedConfig;
  readonly #log: Logger;
  readonly #openLayer: (r: MountRequest, signal: AbortSignal) => Promise<ServedLayer>;
  readonly #ahead: LayersAhead<ServedLayer>;

  constructor(deps: ServedMountsDeps) {
    this.#config = deps.config;
    this.#log = deps.log;
    this.#openLayer = deps.openLayer ?? remoteOpener(deps);
    this.#ahead = new LayersAhead({
      open: this.#openLayer,
      tocDigestOf: (l) => l.tocDigest,
      log: deps.log,
      ahead: OPEN_AHEAD,
      ttlMs: OPEN_AHEAD_TTL_MS,
    });
  }

  get size(): number {
    return this.#mounts.size;
  }

  mount(request: MountRequest, signal: AbortSignal): Promise<MountInfo> {
    return this.#serialized(request.mountpoint, () => this.#mount(request, signal));
  }

  /** True when something was unmounted. */
  unmount(mountpoint: string): Promise<boolean> {
    return this.#serialized(mountpoint, () => this.#unmount(mountpoint));
  }

  list(): MountInfo[] {
    return [...this.#mounts.values()].map(infoOf);
  }

  /** The requests of every mount, as plain JSON (to restore them after a restart). */
  snapshot(): MountRequest[] {
    return [...this.#mounts.values()].filter((s) => s.state === 'mounted').map((s) => ({ ...s.request }));
  }

  /** Unmount everything (lazily); for shutdown. */
  async unmountAll(): Promise<void> {
    this.#ahead.clear();
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
      if (existing.request.digest === digest && existing.request.reference === request.reference) return infoOf(existing);
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
    const ahead = await abortable(this.#ahead.take(request), signal);
    const layer = ahead ?? (await this.#openLayer(request, signal));
    signal.throwIfAborted();
    const openMs = Date.now() - started;
    this.#ahead.start(request, (d) => this.#serves(request.reference, d));
    const fs = new LayerFs({ layer, digest, log, readTimeoutMs: this.#config.fs.readTimeoutMs });
    const fuse = await mountLayerFs(mountpoint, fs, digest, { opTimeoutMs: this.#config.fs.readTimeoutMs + 10_000, log });
    if (signal.aborted) {
      await fuse.unmount().catch((err: unknown) => log.error({ err }, 'unmount after a cancelled mount failed'));
      throw signal.reason;
    }
    const served: Served = {
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
    return infoOf(served);
  }

  #serves(reference: string, digest: string): boolean {
    for (const s of this.#mounts.values()) if (s.request.digest === digest && s.request.reference === reference) return true;
    return false;
  }

  #startPrefetch(served: Served, log: Logger): void {
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
      this.#mounts.delete(mountpoint);
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
    await runCommand('umount', ['-l', mountpoint], { timeoutMs: 30_000 });
    this.#log.info({ mountpoint, source: stale.source }, 'detached a stale layer mount');
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
}

function remoteOpener(deps: ServedMountsDeps): (r: MountRequest, signal: AbortSignal) => Promise<ServedLayer> {
  const { registry, cache } = deps;
  if (!registry || !cache) throw new InvalidArgumentError('ServedMounts needs a registry client and a chunk cache (or openLayer)');
  return (r, signal) => {
    const reference = parseReference(r.reference, 'reference');
    const blob = registry.blob(reference, { digest: r.digest, urls: r.urls ?? [] });
    return RemoteLayer.open({
      blob,
      expectedTocDigest: r.tocDigest,
      cache,
      limits: deps.config.estargz,
      log: deps.log.child({ layer: r.digest }),
      signal,
    });
  };
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

function infoOf(s: Served): MountInfo {
  return {
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
  };
}

