/**
 * stargz-lazy's `LayerHook`: what the overlay snapshotter (which owns containerd's
 * remote-snapshot protocol) is given to mount eStargz layers lazily through the FUSE-serving
 * process (stargz-snapshotter's `FileSystem`: Mount / Check / Unmount):
 *
 * - `parse`: the layer the labels of a remote prepare name (`remote-request.ts`); malformed
 *   labels, or a layer without the TOC digest label (unless `allowUnverifiedLayers`: its TOC
 *   could not be checked against the manifest, while containerd's own pull checks the whole
 *   blob against the layer digest), answer `{ fallback, note }`: an ordinary snapshot that
 *   containerd fills by unpacking the layer (`note` logs and counts it once the prepare answers
 *   that snapshot). A running FUSE process is told of the layer at once (a hint),
 *   so its footer and TOC are on their way while the prepare makes its checks; not for a layer
 *   this client unmounted a moment ago, which the process keeps (`unmounted-layers.ts`).
 * - `mount`: through the FUSE process (footer + TOC fetched and verified), bounded by
 *   `mountTimeoutMs`; a process that stopped answering is started again, once. A failure (not
 *   eStargz, registry unreachable, timeout) leaves nothing mounted and answers the ordinary
 *   snapshot.
 * - `check`: `layer-check.ts`; `status`: `layers-status.ts`.
 * - `release` / `cleanup` / `unmount`: remote layers are FUSE mounts inside
 *   `snapshots/<id>/fs`; they are unmounted before a directory is deleted (remove) or renamed
 *   and deleted (cleanup).
 * Each fallback is logged once (warn, naming the layer, the image and the reason; info for a
 * layer that is not eStargz) and counted by reason (`prepare-fallbacks.ts`).
 */
import path from 'node:path';
import type { Call, Labels } from '../../../core/sdk.js';
import type { FusedLink } from '../fused-client/fused-link.js';
import { CheckedLayers } from './checked-layers.js';
import { describeError, errorCode, isFusedUnreachable } from './error-code.js';
import { checkLayers } from './layer-check.js';
import { UnmountedLayers } from './unmounted-layers.js';
import { layersStatus } from './layers-status.js';
import { PrepareFallbacks } from './prepare-fallbacks.js';
import { LABEL_TOC_DIGEST, remoteRequestFromLabels, targetOf, type RemoteRequest } from './remote-request.js';
import { detachMount, mountsUnder, type LayerDecision, type LayerHook } from '../../../core/sdk-overlay.js';

export interface FusedLayersOptions {
  fused: FusedLink;
  /** `<root>/snapshots`: where the layers are mounted. */
  snapshotsDir: string;
  /** Per-layer prefetch bound sent with each mount (0: none). */
  prefetchBytes: number;
  /** A remote prepare that has not mounted its layer by then answers an ordinary snapshot. */
  mountTimeoutMs: number;
  /** Mount lazily layers without a TOC digest label (options.ts `allowUnverifiedLayers`). */
  allowUnverifiedLayers: boolean;
}

/** How long a passed check of a remote layer (or its mount) holds: a pull's next prepare comes within ms. */
const CHECKED_TTL_MS = 1_000;

/**
 * An unmounted layer counts as kept by the process this long, and this many of them: well
 * inside what the process keeps (fused/layer-supply.ts: 16 layers, 10 minutes).
 */
const UNMOUNTED_TTL_MS = 60_000;
const UNMOUNTED_MAX = 16;

export function fusedLayers(o: FusedLayersOptions): LayerHook<RemoteRequest> {
  const { fused, snapshotsDir } = o;
  /** Remote prepares answered with an ordinary snapshot, by reason. */
  const fallbacks = new PrepareFallbacks();
  /** Remote layers checked or mounted in the last second (not asked about again). */
  const checked = new CheckedLayers(CHECKED_TTL_MS);
  /** Layers this client unmounted a moment ago, which the process keeps (no open hint for them). */
  const unmounted = new UnmountedLayers({ ttlMs: UNMOUNTED_TTL_MS, max: UNMOUNTED_MAX });

  /** Unmount through the FUSE process; detach directly when it is not running or does not know the mount. */
  async function unmount(mountpoint: string, call: Call): Promise<void> {
    checked.forget(mountpoint);
    const client = await fused.running().catch(() => undefined);
    if (client !== undefined) {
      try {
        await client.unmount(mountpoint);
        unmounted.unmounted(mountpoint, client);
        return;
      } catch (err) {
        unmounted.forget(mountpoint);
        if (isFusedUnreachable(err)) fused.reset(client);
        call.log.debug({ err, mountpoint }, 'FUSE process did not unmount; detaching directly');
      }
    }
    unmounted.forget(mountpoint);
    if (!(await isMounted(mountpoint))) return;
    await detachMount(mountpoint);
  }

  /** Mount through the FUSE process; one that stopped answering since the last call is started again, once. */
  async function mountLayer(request: RemoteRequest & { mountpoint: string }, call: Call): Promise<void> {
    const signal = AbortSignal.any([call.signal, AbortSignal.timeout(o.mountTimeoutMs)]);
    for (let attempt = 1; ; attempt++) {
      const client = await fused.get(signal);
      try {
        await client.mount(request, signal);
        checked.note([request.mountpoint], client);
        unmounted.mounted(request.mountpoint, request);
        return;
      } catch (err) {
        if (!isFusedUnreachable(err)) throw err;
        fused.reset(client);
        if (attempt >= 2) throw err;
        call.log.warn({ err }, 'the FUSE-serving process does not answer; starting it again');
      }
    }
  }

  /**
   * A remote prepare spends a few ms in its own checks and metadata transactions before it asks
   * for the mount: a running FUSE process is told at once, so that the layer's footer and TOC
   * are on their way meanwhile. Not for a layer this client unmounted a moment ago: the process
   * keeps it opened. Never waits, never fails the prepare.
   */
  function hintOpen(request: RemoteRequest, log: Call['log']): void {
    const { prefetchBytes: _, ...hint } = request;
    void fused
      .running()
      .then((client) => (client === undefined || unmounted.take(request, client) ? undefined : client.open?.(hint)))
      .catch((err: unknown) => log.debug({ err }, 'open hint to the FUSE-serving process failed'));
  }

  return {
    parse(labels: Labels, call: Call): LayerDecision<RemoteRequest> {
      const target = targetOf(labels) ?? '';
      let request: RemoteRequest | undefined;
      try {
        request = remoteRequestFromLabels(labels, o.prefetchBytes);
      } catch (err) {
        return {
          fallback: 'malformed_labels',
          note(c: Call) {
            c.log.warn({ err, target }, 'remote snapshot labels are malformed; preparing an ordinary snapshot');
            fallbacks.note('malformed_labels');
          },
        };
      }
      if (request === undefined) return undefined;
      if (request.tocDigest === undefined && !o.allowUnverifiedLayers) {
        const { digest, reference } = request;
        return {
          fallback: 'unverified_layer',
          note(c: Call) {
            c.log.warn(
              { target, digest, reference, reason: 'unverified_layer' },
              `layer ${digest} of ${reference} not mounted lazily: it has no ${LABEL_TOC_DIGEST} label, so its TOC ` +
                'cannot be checked against the image manifest (allowUnverifiedLayers is false); preparing an ordinary snapshot that containerd ' +
                'fills and verifies against the layer digest',
            );
            fallbacks.note('unverified_layer');
          },
        };
      }
      hintOpen(request, call.log);
      return { layer: request };
    },

    describe: (layer: RemoteRequest) => ({ digest: layer.digest, reference: layer.reference }),

    /** `call.log` names the target and the layer (`describe`). */
    async mount(mountpoint: string, layer: RemoteRequest, call: Call): Promise<void> {
      try {
        await mountLayer({ ...layer, mountpoint }, call);
      } catch (err) {
        const code = errorCode(err);
        const msg = 'layer not mounted remotely; preparing an ordinary snapshot that containerd fills';
        if (code === 'NOT_ESTARGZ') call.log.info({ reason: describeError(err) }, `${msg} (not eStargz)`);
        else call.log.warn({ err, code }, msg);
        fallbacks.note(code === 'NOT_ESTARGZ' ? 'not_estargz' : 'mount_failed');
        // Make sure nothing is left mounted on the snapshot's directory.
        if (await isMounted(mountpoint)) await unmount(mountpoint, call);
        throw err;
      }
    },

    check: (layers, call) => checkLayers({ fused, checked, snapshotsDir }, layers, call),

    unmount,

    /** Unmount the FUSE mounts of directories whose record is gone; busy ones are kept for the next cleanup. */
    async release(dirs: readonly string[], call: Call): Promise<ReadonlySet<string>> {
      const busy = new Set<string>();
      if (dirs.length === 0) return busy;
      const mounted = new Set((await mountsUnder(snapshotsDir)).map((m) => m.mountpoint));
      for (const dir of dirs) {
        const fs = path.join(dir, 'fs');
        if (!mounted.has(fs)) continue;
        try {
          await unmount(fs, call);
          call.log.debug({ mountpoint: fs }, 'unmounted remote layer');
        } catch (err) {
          call.log.warn({ err, mountpoint: fs }, 'failed to unmount remote layer; cleanup will retry');
          busy.add(dir);
        }
      }
      return busy;
    },

    /**
     * Detach mounts under `snapshots/` that sit where no snapshot directory can be (a temp or
     * gc- directory: damage from outside, or a crash in an older version); the overlay's
     * cleanup of unrecorded directories follows.
     */
    async cleanup(call: Call): Promise<void> {
      for (const m of await mountsUnder(snapshotsDir)) {
        const rel = path.relative(snapshotsDir, m.mountpoint).split(path.sep);
        if (/^[0-9]+$/.test(rel[0] ?? '') && rel.length === 2 && rel[1] === 'fs') continue; // release's job
        call.log.warn({ mountpoint: m.mountpoint, fstype: m.fstype }, 'detaching a mount no snapshot owns');
        await unmount(m.mountpoint, call).catch((err: unknown) => call.log.warn({ err, mountpoint: m.mountpoint }, 'failed to detach mount'));
      }
    },

    status: (remote, call) => layersStatus({ fused, fallbacks, snapshotsDir }, remote, call),

    /** Close the connection to the FUSE process, which keeps serving running containers. */
    close: () => fused.close(),
  };
}

async function isMounted(mountpoint: string): Promise<boolean> {
  return (await mountsUnder(path.dirname(mountpoint))).some((m) => m.mountpoint === mountpoint);
}
