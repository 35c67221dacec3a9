/**
 * The class form of the overlay snapshotter, kept only while stargz-lazy still extends it
 * (issue 14 part B composes stargz-lazy with `createOverlaySnapshotter` and deletes this file).
 * New code uses `createOverlaySnapshotter` (overlay-snapshotter.ts).
 *
 * containerd's overlay snapshotter (snapshots/overlay/overlay.go) on any `MetaStore`: the
 * store owns names, parents and errors; this class only makes directories and mounts.
 * `memory` runs it on a tmpfs with a MemoryMetaStore, `overlayfs-native` on disk with an
 * LmdbMetaStore.
 *
 * Layout: `<dir>/snapshots/<id>/fs` (the layer, overlay upperdir) and `<id>/work` (overlay
 * workdir, active snapshots only). Crash safety comes from the order of operations:
 * - create: the directory is built under a temp name and renamed to `<id>` inside the store's
 *   write transaction, so the record and the directory appear together; a crash leaves at
 *   most a temp dir or an unrecorded `<id>`, which `cleanup` removes;
 * - remove: the record goes first (committed), the directory after, or with `asyncRemove` at
 *   the next `cleanup`; a crash in between leaves only an unrecorded directory;
 * - cleanup: every directory whose name is not a recorded id is removed.
 */
import { statSync } from 'node:fs';
import { access, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { diskUsage } from './disk-usage.js';
import { checkKeyLength } from '../contract/key-limit.js';
import type { MetaReader, MetaStore, SnapshotRef } from '../metastore/metastore.js';
import { MissingSnapshotDirError, isErrno, makeSnapshotDir, takeUnknownDirs } from './overlay-dirs.js';
import { checkOverlayMountOptions, hasMountOption } from './overlay-mount-options.js';
import { OverlayLayout, overlayIndexOff, overlayMounts } from './overlay-mounts.js';
import type { Call, Info, InfoUpdate, Labels, Mount, SnapshotFilter, Snapshotter, Usage } from '../contract/snapshotter.js';
import { quoteInput } from '../text/truncate.js';
import { LABEL_OVERLAY_UPPERDIR, type MissingDir, type OverlaySnapshotterOptions } from './overlay-snapshotter.js';

export class OverlaySnapshotter implements Snapshotter {
  protected readonly store: MetaStore;
  protected readonly layout: OverlayLayout;
  protected readonly log: Logger;
  readonly #asyncRemove: boolean;
  readonly #upperdirLabel: boolean;
  /** Options put in front of every overlay mount's own options. */
  readonly #overlayOptions: readonly string[];

  constructor(o: OverlaySnapshotterOptions) {
    this.store = o.store;
    this.layout = new OverlayLayout(o.dir);
    this.log = o.log;
    this.#asyncRemove = o.asyncRemove ?? false;
    this.#upperdirLabel = o.upperdirLabel ?? false;
    const extra = [...(o.mountOptions ?? [])];
    checkOverlayMountOptions(extra);
    if (!hasMountOption(extra, 'index') && overlayIndexOff()) extra.push('index=off');
    this.#overlayOptions = Object.freeze(extra);
  }

  async stat(key: string): Promise<Info> {
    checkKeyLength('key', key);
    return this.store.read((tx) => this.#labelled(tx, tx.getInfo(key).info));
  }

  async update(info: InfoUpdate, fieldpaths: string[]): Promise<Info> {
    checkKeyLength('name', info?.name);
    return this.store.write((tx) => this.#labelled(tx, tx.update(info, fieldpaths)));
  }

  /** Active: the upper dir walked now (hard links once). Committed: recorded at commit. View: 0. */
  async usage(key: string, call: Call): Promise<Usage> {
    checkKeyLength('key', key);
    const { id, info, usage } = await this.store.read((tx) => tx.getInfo(key));
    if (info.kind !== 'active') return usage;
    const upper = this.layout.upperPath(id);
    try {
      return await diskUsage(upper, call.signal);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      // Removed while we measured (NotFound), or damaged from outside (still recorded).
      const still = await this.store.read((tx) => tx.getInfo(key));
      if (still.id !== id) throw new NotFoundError(`snapshot ${quoteInput(key)} was removed while its usage was measured`);
      throw new MissingSnapshotDirError(key, upper);
    }
  }

  /**
   * From the metadata, as containerd's. Only the snapshot's own directory is checked (one
   * local stat): a missing one is named clearly; a parent's missing layer surfaces as the
   * kernel's ENOENT when the overlay is mounted, as with containerd (`findMissingDirs` and
   * prepare name it).
   */
  async mounts(key: string): Promise<Mount[]> {
    checkKeyLength('key', key);
    const s = await this.store.read((tx) => tx.getSnapshot(key));
    const dir = this.layout.snapshotDir(s.id);
    if (!statSync(dir, { throwIfNoEntry: false })) throw new MissingSnapshotDirError(key, dir);
    return this.#mountsOf(s);
  }

  prepare(key: string, parent: string, labels: Labels): Promise<Mount[]> {
    return this.#create('active', key, parent, labels);
  }

  view(key: string, parent: string, labels: Labels): Promise<Mount[]> {
    return this.#create('view', key, parent, labels);
  }

  async commit(name: string, key: string, labels: Labels, call: Call): Promise<void> {
    checkKeyLength('name', name);
    checkKeyLength('key', key);
    await this.store.write(async (tx) => {
      const { id, info } = tx.getInfo(key);
      // Only an active snapshot is worth measuring; for the others tx.commit throws the right error.
      let usage: Usage = { size: 0, inodes: 0 };
      if (info.kind === 'active') {
        const upper = this.layout.upperPath(id);
        usage = await diskUsage(upper, call.signal).catch((err: unknown) => {
          throw isErrno(err, 'ENOENT') ? new MissingSnapshotDirError(key, upper) : err;
        });
      }
      tx.commit(key, name, usage, labels);
    });
  }

  async remove(key: string, call: Call): Promise<void> {
    checkKeyLength('key', key);
    const { id } = await this.store.write((tx) => tx.remove(key));
    if (this.releaseDirs) {
      // The record is gone: release what the backend put inside (a mount) even when the
      // directory itself waits for cleanup(); a busy one is offered again by cleanup().
      const dir = this.layout.snapshotDir(id);
      const busy = await this.releaseDirs([dir], call);
      if (busy.has(dir)) return;
    }
    if (this.#asyncRemove) return; // the next cleanup() removes the directory
    // The record is gone for good; a directory that cannot be removed now is left to cleanup().
    try {
      await rm(this.layout.snapshotDir(id), { recursive: true, force: true });
    } catch (err) {
      call.log.warn({ err, id }, 'failed to remove snapshot directory; cleanup will retry');
    }
  }

  async *list(filter: SnapshotFilter): AsyncIterable<Info> {
    const infos = await this.store.read((tx) => (this.#upperdirLabel ? tx.list().map((i) => this.#labelled(tx, i)) : tx.list()));
    for (const info of infos) if (filter.match(info)) yield info;
  }

  /**
   * Remove every directory under `snapshots/` that no record names: directories of removed
   * snapshots (asyncRemove, failed removes) and temp dirs of creates a crash interrupted.
   * The scan runs as the only writer (no create is half-way), the deleting after it, so a
   * large directory does not hold up other writes.
   */
  async cleanup(call: Call): Promise<void> {
    const dirs = await this.store.write(async (tx) => {
      const ids = tx.ids();
      if (!this.releaseDirs) return takeUnknownDirs(this.layout, ids);
      // Release unrecorded snapshot directories BEFORE they are renamed (a mount inside
      // would move along); the busy ones are kept as if recorded, for the next cleanup.
      const known = new Set(ids);
      const unknown = (await readdir(this.layout.snapshotsDir)).filter((n) => /^[0-9]+$/.test(n) && !known.has(Number(n)));
      const busy = await this.releaseDirs(unknown.map((n) => path.join(this.layout.snapshotsDir, n)), call);
      const keep = [...busy].map((d) => Number(path.basename(d))).filter((n) => Number.isSafeInteger(n));
      return takeUnknownDirs(this.layout, [...ids, ...keep]);
    });
    for (const dir of dirs) {
      call.signal.throwIfAborted();
      call.log.debug({ dir }, 'removing unreferenced snapshot directory');
      try {
        await rm(dir, { recursive: true, force: true });
      } catch (err) {
        call.log.warn({ err, dir }, 'failed to remove unreferenced snapshot directory');
      }
    }
  }

  /**
   * Extension point for backends that put something inside a snapshot directory that a
   * recursive delete must not walk into (stargz-lazy mounts a FUSE file system on `fs`).
   * When defined, it is called with snapshot directories (`<dir>/snapshots/<id>`) whose
   * record is gone, before `remove` deletes them and before `cleanup` renames and deletes
   * them (inside cleanup's write transaction), and returns those still busy: they are kept
   * and offered again at the next `cleanup`. Must not throw for one directory's failure.
   */
  protected releaseDirs?(dirs: readonly string[], call: Call): Promise<ReadonlySet<string>>;

  /** Snapshots whose directory is gone (damage from outside snaphost). */
  async findMissingDirs(): Promise<MissingDir[]> {
    const recorded = await this.store.read((tx) => tx.list().map((i) => ({ key: i.name, dir: this.layout.snapshotDir(tx.getInfo(i.name).id) })));
    const missing = await Promise.all(recorded.map((r) => access(r.dir).then(() => undefined, () => r)));
    return missing.filter((m): m is MissingDir => m !== undefined);
  }

  /** Close the store; later calls answer UNAVAILABLE. Directories stay as they are. */
  async close(): Promise<void> {
    await this.store.close();
  }

  async #create(kind: 'active' | 'view', key: string, parent: string, labels: Labels): Promise<Mount[]> {
    checkKeyLength('key', key);
    checkKeyLength('parent', parent);
    return this.store.write(async (tx) => {
      const s = tx.create(kind, key, parent, labels);
      const nearest = s.parentIds[0];
      await makeSnapshotDir(this.layout, s.id, kind === 'active', nearest === undefined ? undefined : { key: parent, fs: this.layout.upperPath(nearest) });
      return this.#mountsOf(s);
    });
  }

  #mountsOf(s: SnapshotRef): Mount[] {
    return overlayMounts(s, this.layout, { indexOff: false }).map((m) =>
      m.type === 'overlay' ? { ...m, options: [...this.#overlayOptions, ...m.options] } : m,
    );
  }

  #labelled(tx: MetaReader, info: Info): Info {
    if (!this.#upperdirLabel) return info;
    const id = tx.getInfo(info.name).id;
    return { ...info, labels: { ...info.labels, [LABEL_OVERLAY_UPPERDIR]: this.layout.upperPath(id) } };
  }
}
