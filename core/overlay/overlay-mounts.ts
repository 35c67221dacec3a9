/**
 * Directory layout and mounts of an overlayfs-style snapshotter, exactly as containerd's
 * overlay snapshotter builds them (containerd: snapshots/overlay/overlay.go `mounts()`).
 *
 * Layout: `<dir>/snapshots/<id>/fs` (the layer's contents, the overlay upperdir) and
 * `<dir>/snapshots/<id>/work` (overlay workdir, active snapshots only), with the small integer
 * ids of the metastore. Short paths side by side matter: containerd's `mount.All` must fit a
 * 128-layer `lowerdir=` into one page (4096 bytes) after compacting it to relative paths.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { SnapshotRef } from '../metastore/metastore.js';
import type { Mount } from '../contract/snapshotter.js';

/** Where snapshot directories live: `<dir>/snapshots/<id>/{fs,work}`. */
export class OverlayLayout {
  /** `<dir>/snapshots`. */
  readonly snapshotsDir: string;

  /** `dir` must be absolute: mount sources are used from any working directory. */
  constructor(dir: string) {
    if (!path.isAbsolute(dir)) throw new Error(`overlay layout directory must be absolute: ${dir}`);
    this.snapshotsDir = path.join(dir, 'snapshots');
  }

  /** `<dir>/snapshots/<id>`. */
  snapshotDir(id: number): string {
    return path.join(this.snapshotsDir, String(checkId(id)));
  }

  /** The layer's contents (overlay upperdir): `<dir>/snapshots/<id>/fs`. */
  upperPath(id: number): string {
    return path.join(this.snapshotDir(id), 'fs');
  }

  /** Overlay workdir: `<dir>/snapshots/<id>/work`. */
  workPath(id: number): string {
    return path.join(this.snapshotDir(id), 'work');
  }
}

export interface OverlayMountOptions {
  /** Add `index=off` (containerd does when the kernel has the overlay `index` parameter). Default: `overlayIndexOff()`. */
  indexOff?: boolean;
  /** Add `userxattr` (rootless overlay). Default false. */
  userxattr?: boolean;
}

/**
 * The mounts of active or view snapshot `s`:
 * - no parent: bind of its own fs dir, `rw,rbind` (view: `ro,rbind`);
 * - view with one parent: bind of the parent's fs dir, `ro,rbind`;
 * - otherwise `overlay` with [`index=off`] [`userxattr`] (active: `workdir=`, `upperdir=`)
 *   `lowerdir=` the ancestors' fs dirs, nearest first, joined by ':'.
 */
export function overlayMounts(s: SnapshotRef, layout: OverlayLayout, opts: OverlayMountOptions = {}): Mount[] {
  if (s.parentIds.length === 0) {
    return [{ type: 'bind', source: layout.upperPath(s.id), options: [s.kind === 'view' ? 'ro' : 'rw', 'rbind'] }];
  }
  if (s.kind === 'view' && s.parentIds.length === 1) {
    return [{ type: 'bind', source: layout.upperPath(s.parentIds[0]!), options: ['ro', 'rbind'] }];
  }
  const options: string[] = [];
  if (opts.indexOff ?? overlayIndexOff()) options.push('index=off');
  if (opts.userxattr) options.push('userxattr');
  if (s.kind === 'active') options.push(`workdir=${layout.workPath(s.id)}`, `upperdir=${layout.upperPath(s.id)}`);
  options.push(`lowerdir=${s.parentIds.map((id) => layout.upperPath(id)).join(':')}`);
  return [{ type: 'overlay', source: 'overlay', options }];
}

let indexOff: boolean | undefined;

/** True when the kernel's overlay module has the `index` parameter, so `index=off` is accepted. */
export function overlayIndexOff(): boolean {
  indexOff ??= existsSync('/sys/module/overlay/parameters/index');
  return indexOff;
}

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`invalid snapshot id ${String(id)}`);
  return id;
}
