/**
 * containerd's overlay snapshotter plus the remote-snapshot protocol (stargz-snapshotter's
 * snapshot/snapshot.go `Prepare`):
 *
 * ```
 * prepare(key, parent, {containerd.io/snapshot.ref: <chain>, …/stargz.reference, …/stargz.digest, …})
 *   1. <chain> already committed with that ref label and parent -> AlreadyExists at once
 *   2. create active `key` (dirs <id>/{fs,work}) as any prepare
 *   3. the FUSE process mounts the layer on <id>/fs (footer + TOC fetched and verified)
 *   4. commit `key` as <chain>, labels + containerd.io/snapshot/remote=remote snapshot
 *   5. AlreadyExists: containerd then finds <chain> with a filtered List and Stat
 * ```
 * Any failure in 3-4 (not eStargz, registry unreachable, timeout, malformed labels) answers
 * the mounts of step 2: an ordinary snapshot that containerd fills by unpacking the layer. So
 * does a layer without the TOC digest label (unless `allowUnverifiedLayers`), before 3: its
 * TOC could not be checked against the manifest, while containerd's own pull checks the whole
 * blob against the layer digest. Each such answer is logged once (warn, naming the layer, the
 * image and the reason; info for a layer that is not eStargz) and counted by reason
 * (`prepare-fallbacks.ts`).
 * AlreadyExists is only ever answered when containerd's filtered List will find the target;
 * otherwise containerd would give up (or retry) the pull.
 *
 * Remote snapshots are FUSE mounts inside `snapshots/<id>/fs`: `releaseDirs` unmounts them
 * before a directory is deleted (remove) or renamed and deleted (cleanup).
 *
 * Availability: `mounts`, `view` and `prepare` on a parent check every remote layer at or below
 * it: mounted, answering, and (asked of the FUSE process, bounded, memoized per blob) either
 * fully cached or its registry reachable. Otherwise they answer UNAVAILABLE naming the
 * snapshot, the layer, the image and why: a container started then would fail reads with EIO.
 * An answer (or a mount) of the last second through a still-attached process is not asked
 * again (`CheckedLayers`): the next layer of a pull goes on the one just mounted.
 */
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { AlreadyExistsError, UnavailableError, LABEL_REMOTE, LABEL_TARGET_REF, type Call, type Labels, type Mount, type SnapshotterStatus } from '../../../core/sdk.js';
import { OverlaySnapshotter, type OverlaySnapshotterOptions } from '../../../core/sdk-overlay.js';
import { CheckedLayers } from './checked-layers.js';
import { describeError, errorCode } from './error-code.js';
import type { FusedLayerCheck, FusedLink, FusedMetrics, FusedMounter, FusedMountInfo } from '../fused-client/fused-link.js';
import { backendMetrics, layerStatuses, type RemoteSnapshot } from './layer-status.js';
import { detachMount, mountsUnder } from '../../../core/sdk-overlay.js';
import { PrepareFallbacks } from './prepare-fallbacks.js';
import {
  LABEL_TOC_DIGEST,
  REMOTE_LABEL_VALUE,
  remoteLayerOfLabels,
  remoteRequestFromLabels,
  targetOf,
  type RemoteRequest,
} from './remote-request.js';
import { cacheDiskBytes, localDiskBytes } from './root-disk-usage.js';

export interface StargzSnapshotterOptions extends OverlaySnapshotterOptions {
  fused: FusedLink;
  /** Per-layer prefetch bound sent with each mount (0: none). */
  prefetchBytes: number;
  /** A remote prepare that has not mounted its layer by then answers an ordinary snapshot. */
  mountTimeoutMs: number;
  /** Mount lazily layers without a TOC digest label (options.ts `allowUnverifiedLayers`). */
  allowUnverifiedLayers: boolean;
}

export class StargzSnapshotter extends OverlaySnapshotter {
  readonly #fused: FusedLink;
  readonly #prefetchBytes: number;
  readonly #mountTimeoutMs: number;
  readonly #allowUnverifiedLayers: boolean;
  /** Remote prepares answered with an ordinary snapshot, by reason. */
  readonly #fallbacks = new PrepareFallbacks();
  /** Remote layers checked or mounted in the last second (not asked about again). */
  readonly #checked = new CheckedLayers(CHECKED_TTL_MS);
  /** Remote prepares of one chain id run one after the other (the second then finds the first's). */
  readonly #targets = new Map<string, Promise<unknown>>();

  constructor(o: StargzSnapshotterOptions) {
    super(o);
    this.#fused = o.fused;
    this.#prefetchBytes = o.prefetchBytes;
    this.#mountTimeoutMs = o.mountTimeoutMs;
    this.#allowUnverifiedLayers = o.allowUnverifiedLayers;
  }

  override async prepare(key: string, parent: string, labels: Labels, call?: Call): Promise<Mount[]> {
    const target = targetOf(labels ?? {});
    if (target === undefined || call === undefined) {
      await this.#checkRemoteLayers(parent, call?.signal);
      return super.prepare(key, parent, labels);
    }
    const remote = this.#remoteRequest(labels);
    if (remote.request !== undefined && remote.unverified !== true) this.#hintOpen(remote.request, call.log);
    await this.#checkRemoteLayers(parent, call.signal);
    return this.#serialized(target, () => this.#prepareTarget(key, parent, labels, target, remote, call));
  }

  override async view(key: string, parent: string, labels: Labels, call?: Call): Promise<Mount[]> {
    await this.#checkRemoteLayers(parent, call?.signal);
    return super.view(key, parent, labels);
  }

  override async mounts(key: string, call?: Call): Promise<Mount[]> {
    await this.#checkRemoteLayers(key, call?.signal);
    return super.mounts(key);
  }

  /**
   * Snapshot count, disk use (snapshot directories, metadata and the chunk cache), one entry
   * per remote layer, and the backend's series. Costs a few requests to the FUSE process and
   * at most one memoized, bounded registry probe per remote layer; never starts the process.
   */
  async status(call: Call): Promise<SnapshotterStatus> {
    const { snapshots, remote } = await this.store.read((tx) => {
      const infos = tx.list();
      const out: RemoteSnapshot[] = [];
      for (const info of infos) {
        if (info.labels[LABEL_REMOTE] !== REMOTE_LABEL_VALUE) continue;
        const { id } = tx.getInfo(info.name);
        out.push({ name: info.name, id, mountpoint: this.layout.upperPath(id), ...remoteLayerOfLabels(info.labels) });
      }
      return { snapshots: infos.length, remote: out };
    });
    const fused = await this.#fused.running().catch(() => undefined);
    let mounts: FusedMountInfo[] | undefined;
    let checks: FusedLayerCheck[] | undefined;
    let metrics: FusedMetrics | undefined;
    let why = 'the FUSE-serving process is not running';
    if (fused !== undefined) {
      try {
        [mounts, checks, metrics] = await Promise.all([
          fused.list(),
          remote.length > 0 ? fused.check(remote.map((r) => r.mountpoint), call.signal) : Promise.resolve([]),
          fused.metrics(),
        ]);
      } catch (err) {
        if (isFusedUnreachable(err)) this.#fused.reset(fused);
        why = `the FUSE-serving process did not answer: ${describeError(err)}`;
        call.log.warn({ err }, 'status: the FUSE-serving process did not answer');
      }
    }
    const layers = layerStatuses(remote, mounts, checks, why);
    const root = path.dirname(this.layout.snapshotsDir);
    const remoteIds = new Set(remote.map((r) => String(r.id)));
    const local = await localDiskBytes(root, this.layout.snapshotsDir, remoteIds, call.signal);
    const diskBytes = local + (metrics?.cache.diskBytes ?? (await cacheDiskBytes(root, call.signal)));
    return { snapshots, diskBytes, layers, metrics: [...backendMetrics(layers, metrics), ...this.#fallbacks.metrics()] };
  }

  /** Unmount the FUSE mounts of directories whose record is gone; busy ones are kept for the next cleanup. */
  protected override async releaseDirs(dirs: readonly string[], call: Call): Promise<ReadonlySet<string>> {
    const busy = new Set<string>();
    if (dirs.length === 0) return busy;
    const mounted = new Set((await mountsUnder(this.layout.snapshotsDir)).map((m) => m.mountpoint));
    for (const dir of dirs) {
      const fs = path.join(dir, 'fs');
      if (!mounted.has(fs)) continue;
      try {
        await this.#unmount(fs, call);
        call.log.debug({ mountpoint: fs }, 'unmounted remote layer');
      } catch (err) {
        call.log.warn({ err, mountpoint: fs }, 'failed to unmount remote layer; cleanup will retry');
        busy.add(dir);
      }
    }
    return busy;
  }

  /**
   * Also detach mounts under `snapshots/` that sit where no snapshot directory can be (a
   * temp or gc- directory: damage from outside, or a crash in an older version), then the
   * usual cleanup of unrecorded directories.
   */
  override async cleanup(call: Call): Promise<void> {
    for (const m of await mountsUnder(this.layout.snapshotsDir)) {
      const rel = path.relative(this.layout.snapshotsDir, m.mountpoint).split(path.sep);
      if (/^[0-9]+$/.test(rel[0] ?? '') && rel.length === 2 && rel[1] === 'fs') continue; // releaseDirs' job
      call.log.warn({ mountpoint: m.mountpoint, fstype: m.fstype }, 'detaching a mount no snapshot owns');
      await this.#unmount(m.mountpoint, call).catch((err: unknown) => call.log.warn({ err, mountpoint: m.mountpoint }, 'failed to detach mount'));
    }
    await super.cleanup(call);
  }

  /** The FUSE process's client when the process is running (never starts it). */
  fusedRunning(): Promise<FusedMounter | undefined> {
    return this.#fused.running();
  }

  /** Close the connection to the FUSE process (which keeps serving running containers), then the store. */
  override async close(): Promise<void> {
    try {
      await this.#fused.close();
    } finally {
      await super.close();
    }
  }

  async #prepareTarget(key: string, parent: string, labels: Labels, target: string, remote: ParsedRemote, call: Call): Promise<Mount[]> {
    if (await this.#targetExists(target, parent, call.log)) {
      throw new AlreadyExistsError(`target snapshot ${JSON.stringify(target)} already exists`);
    }
    const { request } = remote;
    if (remote.error !== undefined) {
      call.log.warn({ err: remote.error, target }, 'remote snapshot labels are malformed; preparing an ordinary snapshot');
      this.#fallbacks.note('malformed_labels');
    }
    const mounts = await super.prepare(key, parent, labels);
    if (request === undefined) return mounts;
    if (remote.unverified === true) {
      call.log.warn(
        { target, digest: request.digest, reference: request.reference, reason: 'unverified_layer' },
        `layer ${request.digest} of ${request.reference} not mounted lazily: it has no ${LABEL_TOC_DIGEST} label, so its TOC ` +
          'cannot be checked against the image manifest (allowUnverifiedLayers is false); preparing an ordinary snapshot that containerd ' +
          'fills and verifies against the layer digest',
      );
      this.#fallbacks.note('unverified_layer');
      return mounts;
    }

    const id = await this.store.read((tx) => tx.getInfo(key).id);
    const mountpoint = this.layout.upperPath(id);
    const log = call.log.child({ target, digest: request.digest });
    const started = Date.now();
    try {
      await this.#mountLayer({ ...request, mountpoint }, call);
    } catch (err) {
      const code = errorCode(err);
      const msg = 'layer not mounted remotely; preparing an ordinary snapshot that containerd fills';
      if (code === 'NOT_ESTARGZ') log.info({ reason: describeError(err) }, `${msg} (not eStargz)`);
      else log.warn({ err, code }, msg);
      this.#fallbacks.note(code === 'NOT_ESTARGZ' ? 'not_estargz' : 'mount_failed');
      await this.#ensureUnmounted(mountpoint, call);
      return mounts;
    }

    try {
      await this.store.write((tx) => tx.commit(key, target, { size: 0, inodes: 0 }, { ...labels, [LABEL_REMOTE]: REMOTE_LABEL_VALUE }));
    } catch (err) {
      // Not expected (prepares of one target are serialized): undo the mount, then either let
      // containerd use the target that appeared, or hand it the ordinary snapshot.
      log.warn({ err }, 'failed to commit remote snapshot');
      await this.#unmount(mountpoint, call);
      if (errorCode(err) === 'ALREADY_EXISTS' && (await this.#targetExists(target, parent))) {
        await super.remove(key, call);
        throw new AlreadyExistsError(`target snapshot ${JSON.stringify(target)} already exists`);
      }
      return mounts;
    }
    log.info({ ms: Date.now() - started, reference: request.reference }, 'prepared remote snapshot');
    throw new AlreadyExistsError(`target snapshot ${JSON.stringify(target)}: prepared as a remote snapshot`);
  }

  /**
   * True when containerd's filtered List (`labels."containerd.io/snapshot.ref"==target,parent==parent`)
   * finds `target` and it can be used: a remote one whose layer is no longer served is not
   * offered (containerd then unpacks the layer into an ordinary snapshot of its own name).
   */
  async #targetExists(target: string, parent: string, log?: Call['log']): Promise<boolean> {
    const found = await this.store.read((tx) => {
      try {
        const { info } = tx.getInfo(target);
        return info.kind === 'committed' && info.parent === parent && info.labels[LABEL_TARGET_REF] === target;
      } catch (err) {
        if (errorCode(err) === 'NOT_FOUND') return false;
        throw err;
      }
    });
    if (!found) return false;
    try {
      await this.#checkRemoteLayers(target);
      return true;
    } catch (err) {
      if (errorCode(err) !== 'UNAVAILABLE') throw err;
      log?.warn({ err, target }, 'target snapshot exists but its remote layer is not served; preparing an ordinary snapshot');
      return false;
    }
  }

  /**
   * UnavailableError when a remote layer at or below snapshot `name` is not served (its FUSE
   * process stopped, which unmounts, or died, which leaves a mount that answers ENOTCONN;
   * statfs, unlike stat or access, is never answered from the kernel's caches):
   * overlay would otherwise show an empty directory, or fail at mount time with an errno.
   * Then the FUSE process says whether each can be read in full (fully cached, or its
   * registry reachable): reads of a layer that is neither would fail with EIO.
   * A missing `name` is left to the store to report.
   */
  async #checkRemoteLayers(name: string, signal?: AbortSignal): Promise<void> {
    if (name === '') return;
    const remote = await this.store.read((tx) => {
      const out: { name: string; fs: string; digest?: string | undefined; reference?: string | undefined }[] = [];
      try {
        for (let n = name; n !== ''; ) {
          const { id, info } = tx.getInfo(n);
          if (info.labels[LABEL_REMOTE] === REMOTE_LABEL_VALUE) {
            out.push({ name: n, fs: this.layout.upperPath(id), ...remoteLayerOfLabels(info.labels) });
          }
          n = info.parent;
        }
      } catch (err) {
        if (errorCode(err) !== 'NOT_FOUND') throw err;
      }
      return out;
    });
    if (remote.length === 0) return;
    const fused = await this.#fused.running().catch(() => undefined);
    const mountpoints = remote.map((r) => r.fs);
    if (this.#checked.holds(mountpoints, fused)) return;
    const mounted = new Set((await mountsUnder(this.layout.snapshotsDir)).map((m) => m.mountpoint));
    for (const r of remote) {
      const problem = !mounted.has(r.fs) ? 'is not mounted' : await unanswered(r.fs);
      if (problem !== undefined) {
        throw new UnavailableError(
          `remote snapshot ${JSON.stringify(r.name)}: its layer ${problem} at ${r.fs}; the FUSE-serving process stopped or died. ` +
            'Remove the snapshots on it and pull the image again',
        );
      }
    }
    const checks = await this.#availability(fused, mountpoints, signal);
    if (checks === undefined) return;
    const problems = remote.flatMap((r, i) => {
      const c = checks[i]!;
      if (c.available) return [];
      const layer = c.digest ?? r.digest ?? 'unknown digest';
      const image = c.reference ?? r.reference;
      return [`remote snapshot ${JSON.stringify(r.name)}: layer ${layer}${image ? ` of ${image}` : ''} is unavailable: ${c.reason ?? 'no reason given'}`];
    });
    if (problems.length === 0) {
      if (fused !== undefined) this.#checked.note(mountpoints, fused);
      return;
    }
    const more = problems.length > MAX_NAMED_PROBLEMS ? `; and ${problems.length - MAX_NAMED_PROBLEMS} more remote layers` : '';
    throw new UnavailableError(problems.slice(0, MAX_NAMED_PROBLEMS).join('; ') + more);
  }

  /**
   * The FUSE process's availability answer for `mountpoints`; undefined when it cannot give one
   * that means anything: not running (the statfs check passed, so a process serves the mounts;
   * a restarted link finds it next time) or too old to know the request.
   */
  async #availability(fused: FusedMounter | undefined, mountpoints: string[], signal?: AbortSignal): Promise<FusedLayerCheck[] | undefined> {
    if (fused === undefined) return undefined;
    try {
      return await fused.check(mountpoints, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (errorCode(err) === 'NOT_FOUND') return undefined;
      if (isFusedUnreachable(err)) this.#fused.reset(fused);
      throw new UnavailableError(`cannot tell whether the remote layers are available: ${describeError(err)}`, { cause: err });
    }
  }

  /**
   * A remote prepare spends a few ms in its own checks and metadata transactions before it asks
   * for the mount: a running FUSE process is told at once, so that the layer's footer and TOC
   * are on their way meanwhile. Never waits, never fails the prepare.
   */
  #hintOpen(request: RemoteRequest, log: Call['log']): void {
    const { prefetchBytes: _, ...hint } = request;
    void this.#fused
      .running()
      .then((fused) => fused?.open?.(hint))
      .catch((err: unknown) => log.debug({ err }, 'open hint to the FUSE-serving process failed'));
  }

  /**
   * The layer the labels of a remote prepare name, or why they name none well (the prepare then
   * falls back); `unverified` when it has no TOC digest and such layers are not mounted lazily.
   */
  #remoteRequest(labels: Labels): ParsedRemote {
    let request: RemoteRequest | undefined;
    try {
      request = remoteRequestFromLabels(labels, this.#prefetchBytes);
    } catch (err) {
      return { error: err };
    }
    if (request !== undefined && request.tocDigest === undefined && !this.#allowUnverifiedLayers) return { request, unverified: true };
    return { request };
  }

  /** Mount through the FUSE process; one that stopped answering since the last call is started again, once. */
  async #mountLayer(request: RemoteRequest & { mountpoint: string }, call: Call): Promise<void> {
    const signal = AbortSignal.any([call.signal, AbortSignal.timeout(this.#mountTimeoutMs)]);
    for (let attempt = 1; ; attempt++) {
      const fused = await this.#fused.get(signal);
      try {
        await fused.mount(request, signal);
        this.#checked.note([request.mountpoint], fused);
        return;
      } catch (err) {
        if (!isFusedUnreachable(err)) throw err;
        this.#fused.reset(fused);
        if (attempt >= 2) throw err;
        call.log.warn({ err }, 'the FUSE-serving process does not answer; starting it again');
      }
    }
  }

  /** Unmount through the FUSE process; detach directly when it is not running or does not know the mount. */
  async #unmount(mountpoint: string, call: Call): Promise<void> {
    this.#checked.forget(mountpoint);
    const fused = await this.#fused.running().catch(() => undefined);
    if (fused !== undefined) {
      try {
        await fused.unmount(mountpoint);
        return;
      } catch (err) {
        if (isFusedUnreachable(err)) this.#fused.reset(fused);
        call.log.debug({ err, mountpoint }, 'FUSE process did not unmount; detaching directly');
      }
    }
    if (!(await isMounted(mountpoint))) return;
    await detachMount(mountpoint);
  }

  /** After a failed mount: make sure nothing is left mounted on the snapshot's directory. */
  async #ensureUnmounted(mountpoint: string, call: Call): Promise<void> {
    if (!(await isMounted(mountpoint))) return;
    await this.#unmount(mountpoint, call);
  }

  async #serialized<T>(target: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#targets.get(target) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#targets.set(target, settled);
    try {
      return await run;
    } finally {
      if (this.#targets.get(target) === settled) this.#targets.delete(target);
    }
  }
}

/** The FUSE process itself did not answer (fused-errors.ts `FusedUnreachableError`), as opposed to the registry. */
function isFusedUnreachable(err: unknown): boolean {
  return (err as { reason?: unknown } | null)?.reason === 'FUSED_UNREACHABLE';
}

/** A remote prepare's labels, parsed once: the layer they name (none for a plain pull), or their error. */
interface ParsedRemote {
  request?: RemoteRequest | undefined;
  error?: unknown;
  /** The layer has no TOC digest and is not to be mounted lazily (it falls back, logged with the reason). */
  unverified?: boolean;
}

/** Unavailable layers named in one UNAVAILABLE message; the rest are counted. */
const MAX_NAMED_PROBLEMS = 3;
/** How long a passed check of a remote layer (or its mount) holds: a pull's next prepare comes within ms. */
const CHECKED_TTL_MS = 1_000;

/** Bound on a layer root's statfs: a live FUSE process answers at once. */
const STATFS_TIMEOUT_MS = 5_000;

/** Why the FUSE mount at `fs` does not answer statfs, `undefined` when it does. */
async function unanswered(fs: string): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`does not answer within ${STATFS_TIMEOUT_MS} ms`), STATFS_TIMEOUT_MS);
  });
  const answer = statfs(fs).then(
    () => undefined,
    (err: unknown) => `does not answer (${errorCode(err) ?? describeError(err)})`,
  );
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function isMounted(mountpoint: string): Promise<boolean> {
  return (await mountsUnder(path.dirname(mountpoint))).some((m) => m.mountpoint === mountpoint);
}
