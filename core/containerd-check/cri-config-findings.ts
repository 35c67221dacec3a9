/**
 * What containerd's CRI plugin (what kubelet drives) does with snaphost's backends, from what CRI
 * itself reports: pure, so every case is unit-tested. The I/O is in cri-findings.ts.
 *
 * Where each fact comes from (checked on containerd 1.6.20 and 2.1.9):
 * - `RuntimeService.Status(verbose)` → `info.config`: the effective CRI config as JSON. On 1.x it
 *   holds the image settings under `containerd` (`snapshotter`, `disableSnapshotAnnotations`,
 *   `runtimes.<handler>.snapshotter` from 1.7). On 2.x it is the runtime config only
 *   (`io.containerd.cri.v1.runtime`): the image settings (`io.containerd.cri.v1.images`) are not
 *   reported over CRI at all.
 * - `ImageService.ImageFsInfo`: the first image file system is the one of CRI's snapshotter:
 *   `<containerd root>/io.containerd.snapshotter.v1.<name>` (1.x; 2.x when the plugin exports no
 *   `root`), or the proxy plugin's `exports.root` (2.x). That path is also what kubelet has
 *   cadvisor stat, so it must exist.
 * - Lazy pulling through CRI: 1.x passes the layer annotations a remote snapshotter needs only
 *   with `disable_snapshot_annotations = false` (the default, true, silently pulls in full).
 *   2.1+ pulls through the transfer service unless `disable_snapshot_annotations` (or
 *   `use_local_image_pull = true`, or another setting the transfer service lacks) makes it fall
 *   back to its own "local image pull" (logged once at start); on the transfer service a layer is
 *   labelled for the snapshotter by the proxy plugin's `exports.enable_remote_snapshot_annotations`.
 */
import path from 'node:path';
import { SNAPSHOTTER_PLUGIN_TYPE } from '../image-fs/link-image-fs.js';
import type { ContainerdFinding } from './finding.js';

export interface CriBackend {
  name: string;
  /** The backend makes remote (lazily fetched) snapshots. */
  remoteSnapshots: boolean;
  /** Its root, when known: on containerd 2.x ImageFsInfo names a proxy plugin's `exports.root`. */
  root?: string;
}

export interface CriObservation {
  major: 1 | 2;
  backends: readonly CriBackend[];
  /** RuntimeService.Status conditions. */
  conditions: readonly { type: string; status: boolean; reason: string; message: string }[];
  /** RuntimeService.Status(verbose) `info` (JSON text values). */
  info: Readonly<Record<string, string>>;
  /** ImageFsInfo's image file systems (mount points), CRI's snapshotter's first; undefined when the call failed. */
  imageFs?: readonly { mountpoint: string; exists: boolean }[];
}

interface CriImageSettings {
  snapshotter?: string;
  disableSnapshotAnnotations?: boolean;
  useLocalImagePull?: boolean;
  runtimeSnapshotters: Map<string, string[]>;
}

const SNAPSHOTTER_DIR_PREFIX = `${SNAPSHOTTER_PLUGIN_TYPE}.`;

/** The CRI image settings found in Status' `info.config` (whatever this containerd line reports), or an error text. */
export function criImageSettings(info: Readonly<Record<string, string>>): CriImageSettings | { error: string } {
  const text = info['config'];
  if (text === undefined) return { error: 'the CRI status has no `config` (an old containerd, or verbose status not supported)' };
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    return { error: `the CRI status' config is not JSON: ${(err as Error).message}` };
  }
  if (!isObject(config)) return { error: "the CRI status' config is not a JSON object" };
  const containerd = isObject(config['containerd']) ? config['containerd'] : {};
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const bool = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
  const runtimeSnapshotters = new Map<string, string[]>();
  const runtimes = isObject(containerd['runtimes']) ? containerd['runtimes'] : {};
  for (const [handler, rt] of Object.entries(runtimes)) {
    const sn = isObject(rt) ? str(rt['snapshotter']) : undefined;
    if (sn) runtimeSnapshotters.set(sn, [...(runtimeSnapshotters.get(sn) ?? []), handler]);
  }
  const settings: CriImageSettings = { runtimeSnapshotters };
  const snapshotter = str(containerd['snapshotter']) ?? str(config['snapshotter']);
  const annotations = bool(containerd['disableSnapshotAnnotations']) ?? bool(config['disableSnapshotAnnotations']);
  const local = bool(config['useLocalImagePull']);
  if (snapshotter !== undefined) settings.snapshotter = snapshotter;
  if (annotations !== undefined) settings.disableSnapshotAnnotations = annotations;
  if (local !== undefined) settings.useLocalImagePull = local;
  return settings;
}

/** The snapshotter an ImageFsInfo mount point belongs to, among `backends` (by root) or by containerd's directory name. */
export function snapshotterOfImageFs(mountpoint: string, backends: readonly CriBackend[]): string | undefined {
  const byRoot = backends.find((b) => b.root !== undefined && path.resolve(b.root) === path.resolve(mountpoint));
  if (byRoot) return byRoot.name;
  const base = path.basename(mountpoint);
  return base.startsWith(SNAPSHOTTER_DIR_PREFIX) ? base.slice(SNAPSHOTTER_DIR_PREFIX.length) : undefined;
}

export function criConfigFindings(o: CriObservation): ContainerdFinding[] {
  const out: ContainerdFinding[] = [];
  const ready = o.conditions.find((c) => c.type === 'RuntimeReady');
  if (ready && !ready.status) {
    out.push({ severity: 'error', code: 'cri-runtime-not-ready', message: `CRI reports RuntimeReady=false (${ready.reason}: ${ready.message}): kubelet cannot start pods` });
  }
  const parsed = criImageSettings(o.info);
  const settings: CriImageSettings = 'error' in parsed ? { runtimeSnapshotters: new Map() } : parsed;
  if ('error' in parsed) out.push({ severity: 'warning', code: 'cri-config-unreadable', message: `${parsed.error}; CRI's image settings were not checked` });

  const firstFs = o.imageFs?.[0];
  const fromFs = firstFs ? snapshotterOfImageFs(firstFs.mountpoint, o.backends) : undefined;
  const criSnapshotter = settings.snapshotter ?? fromFs;
  const table = o.major === 2 ? '[plugins."io.containerd.cri.v1.images"]' : '[plugins."io.containerd.grpc.v1.cri".containerd]';
  if (criSnapshotter === undefined) {
    out.push({ severity: 'warning', code: 'cri-snapshotter-unknown', message: `CRI reported neither its snapshotter nor an image file system that names one${firstFs ? ` (ImageFsInfo: ${firstFs.mountpoint})` : ''}` });
  }

  for (const b of o.backends) {
    const handlers = settings.runtimeSnapshotters.get(b.name) ?? [];
    const isDefault = criSnapshotter === b.name;
    if (isDefault) {
      out.push({ backend: b.name, severity: 'ok', code: 'cri-snapshotter', message: `CRI's snapshotter: every pod's images and root file systems (${table} snapshotter = "${b.name}")` });
    } else if (handlers.length > 0) {
      out.push({ backend: b.name, severity: 'ok', code: 'cri-runtime-snapshotter', message: `the snapshotter of CRI runtime handler(s) ${handlers.join(', ')}` });
    } else {
      out.push({ backend: b.name, severity: 'ok', code: 'cri-not-used', message: `CRI does not use it${criSnapshotter ? ` (CRI's snapshotter is ${criSnapshotter})` : ''}: pods get other snapshots; ctr and other clients may still use it` });
      continue;
    }
    if (isDefault && firstFs && !firstFs.exists) {
      out.push({
        backend: b.name,
        severity: 'warning',
        code: 'cri-image-fs-missing',
        message: `ImageFsInfo names ${firstFs.mountpoint}, which does not exist: kubelet's image file system stats fail ("failed to get device for dir"); set containerdRoot in snaphost's config${o.major === 2 ? ' or exports.root in the proxy plugin' : ''}`,
      });
    }
    if (b.remoteSnapshots) out.push(...lazyFindings(b.name, o.major, settings, table));
  }
  return out;
}

function lazyFindings(name: string, major: 1 | 2, s: CriImageSettings, table: string): ContainerdFinding[] {
  if (major === 1) {
    if (s.disableSnapshotAnnotations === false) {
      return [{ backend: name, severity: 'ok', code: 'cri-lazy-pull-on', message: `CRI passes the layer annotations lazy pulling needs (${table} disable_snapshot_annotations = false)` }];
    }
    if (s.disableSnapshotAnnotations === true) {
      return [{ backend: name, severity: 'warning', code: 'cri-snapshot-annotations-off', message: `CRI passes no layer annotations, so every pull through CRI is silently a full download: set disable_snapshot_annotations = false in ${table}` }];
    }
    return [{ backend: name, severity: 'warning', code: 'cri-snapshot-annotations-unknown', message: `CRI's status does not say whether it passes layer annotations: check disable_snapshot_annotations = false in ${table}` }];
  }
  // containerd 2.x: only when some version reports the image settings.
  if (s.disableSnapshotAnnotations === false || s.useLocalImagePull === true) {
    return [{ backend: name, severity: 'ok', code: 'cri-local-image-pull', message: `CRI pulls by itself ("local image pull"${s.disableSnapshotAnnotations === false ? ', because disable_snapshot_annotations = false' : ''}) and passes the layer annotations: lazy, as on containerd 1.x` }];
  }
  if (s.disableSnapshotAnnotations === true) {
    return [{ backend: name, severity: 'ok', code: 'cri-transfer-service-pull', message: `CRI pulls through the transfer service (2.1+; 2.0 pulls in full): lazy only with exports.enable_remote_snapshot_annotations = "true" in [proxy_plugins."${name}"] and an unpack_config entry for it` }];
  }
  return [{
    backend: name,
    severity: 'warning',
    code: 'cri-image-config-unreported',
    message: `containerd 2.x does not report CRI's image settings over CRI, so lazy pulling through CRI is not checked: either disable_snapshot_annotations = false in ${table} (CRI then falls back to its own "local image pull", logged at start) or the transfer service with exports.enable_remote_snapshot_annotations = "true" in [proxy_plugins."${name}"] and an unpack_config entry`,
  }];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
