/**
 * containerd's overlay snapshotter (snapshots/overlay/overlay.go) as one function that is GIVEN
 * its metadata store (containerd's `WithMetaStore`) and, optionally, a `LayerHook` (remote lower
 * layers, as stargz-snapshotter's generic snapshotter takes a `FileSystem`) and a `WriteHook`
 * (a check inside the store's write transaction). The store owns names, parents and errors;
 * this code only makes directories and mounts. It returns a plain object of closures: a backend
 * composes it by spreading, `{ ...overlay, status, close: async () => { await overlay.close(); … } }`.
 * `memory` runs it on a tmpfs with a MemoryMetaStore, `overlayfs-native` on disk with an
 * LmdbMetaStore, stargz-lazy with its FUSE layers as the LayerHook.
 *
 * Layout: `<dir>/snapshots/<id>/fs` (the layer, overlay upperdir) and `<id>/work` (overlay
 * workdir, active snapshots only). Crash safety comes from the order of operations:
 * - create: the directory is built under a temp name and renamed to `<id>` inside the store's
 *   write transaction, so the record and the directory appear together; a crash leaves at
 *   most a temp dir or an unrecorded `<id>`, which `cleanup` removes;
 * - remove: the record goes first (committed), the directory after, or with `asyncRemove` at
 *   the next `cleanup`; a crash in between leaves only an unrecorded directory;
 * - cleanup: every directory whose name is not a recorded id is removed.
 *
 * Concurrency: the host calls every method concurrently; the store runs one write
 * transaction at a time, and `beforeWrite` runs inside it, so a check-then-act there needs no
 * lock. The remote-snapshot protocol (a prepare with `containerd.io/snapshot.ref`, when a
 * `LayerHook` is given) is `remote-prepare.ts`.
 */
import { statSync } from 'node:fs';
import { access, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import { diskUsage } from './disk-usage.js';
import { checkKeyLength } from '../contract/key-limit.js';
import type { MetaReader, MetaStore, MetaWriter, SnapshotRef } from '../metastore/metastore.js';
import type { LayerHook, WriteHook } from './layer-hook.js';
import { MissingSnapshotDirError, isErrno, makeSnapshotDir, takeUnknownDirs } from './overlay-dirs.js';
import { checkOverlayMountOptions, hasMountOption } from './overlay-mount-options.js';
import { OverlayLayout, overlayIndexOff, overlayMounts } from './overlay-mounts.js';
import { remoteLayersOf } from './remote-layers-below.js';
import { remotePrepare, type Created } from './remote-prepare.js';
import type { Call, Info, InfoUpdate, Labels, Mount, SnapshotFilter, Snapshotter, SnapshotterStatus, Usage } from '../contract/snapshotter.js';
import { quoteInput } from '../text/truncate.js';

/** The label containerd's overlay adds (with `upperdirLabel`): where a snapshot's layer lives. */
export const LABEL_OVERLAY_UPPERDIR = 'containerd.io/snapshot/overlay.upperdir';

export interface OverlaySnapshotterOptions<L = unknown> {
  /** The metadata store; closed by `close()`. */
  store: MetaStore;
  /** Absolute directory holding `snapshots/<id>/{fs,work}`; `snapshots/` must exist. */
  dir: string;
  log: Logger;
  /**
   * Leave a removed snapshot's directory for the next `cleanup` instead of deleting it in
   * `remove` (containerd's `AsynchronousRemove`): removes return at once. Default false.
   */
  asyncRemove?: boolean;
  /**
   * Extra options of every overlay mount, before `workdir=`/`upperdir=`/`lowerdir=`
   * (containerd's `mount_options`). `index=off` is added when the kernel knows `index` and
   * these do not set it. No commas inside one option; no lowerdir/upperdir/workdir.
   */
  mountOptions?: readonly string[];
  /** Add `containerd.io/snapshot/overlay.upperdir` to every Info (containerd's `upperdir_label`). */
  upperdirLabel?: boolean;
  /** Remote lower layers (containerd's remote-snapshot protocol); see layer-hook.ts. */
  layers?: LayerHook<L>;
  /** A check inside the store's write transaction of every prepare, view, commit and remove. */
  beforeWrite?: WriteHook;
}

/** A record whose directory is gone (see `findMissingDirs`). */
export interface MissingDir {
  key: string;
  dir: string;
}

/** What `createOverlaySnapshotter` returns: the contract's methods (all async), `cleanup`, `close`, and more. */
export interface OverlaySnapshotter extends Snapshotter {
  stat(key: string, call: Call): Promise<Info>;
  update(info: InfoUpdate, fieldpaths: string[], call: Call): Promise<Info>;
  usage(key: string, call: Call): Promise<Usage>;
  mounts(key: string, call: Call): Promise<Mount[]>;
  prepare(key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]>;
  view(key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]>;
  commit(name: string, key: string, labels: Labels, call: Call): Promise<void>;
  remove(key: string, call: Call): Promise<void>;
  list(filter: SnapshotFilter, call: Call): AsyncIterable<Info>;
  /** Remove every unrecorded directory under `snapshots/` (see the file's comment). */
  cleanup(call: Call): Promise<void>;
  /** Present with a `LayerHook` that has `status`: the hook's report plus `snapshots`. */
  status?(call: Call): Promise<SnapshotterStatus>;
  /** Close the `LayerHook`, then the store; later calls answer UNAVAILABLE. Directories stay as they are. */
  close(): Promise<void>;
  /** Snapshots whose directory is gone (damage from outside snaphost). */
  findMissingDirs(): Promise<MissingDir[]>;
}

const ZERO: Usage = { size: 0, inodes: 0 };

export function createOverlaySnapshotter<L>(o: OverlaySnapshotterOptions<L>): OverlaySnapshotter {
  const { store, layers, beforeWrite } = o;
  const layout = new OverlayLayout(o.dir);
  const asyncRemove = o.asyncRemove ?? false;
  const upperdirLabel = o.upperdirLabel ?? false;
  const extra = [...(o.mountOptions ?? [])];
  checkOverlayMountOptions(extra);
  if (!hasMountOption(extra, 'index') && overlayIndexOff()) extra.push('index=off');
  /** Options put in front of every overlay mount's own options. */
  const overlayOptions: readonly string[] = Object.freeze(extra);

  const mountsOf = (s: SnapshotRef): Mount[] =>
    overlayMounts(s, layout, { indexOff: false }).map((m) => (m.type === 'overlay' ? { ...m, options: [...overlayOptions, ...m.options] } : m));

  const labelled = (tx: MetaReader, info: Info): Info => {
    if (!upperdirLabel) return info;
    const id = tx.getInfo(info.name).id;
    return { ...info, labels: { ...info.labels, [LABEL_OVERLAY_UPPERDIR]: layout.upperPath(id) } };
  };

  /** A new active or view snapshot, record and directory, inside write transaction `tx`. */
  async function createIn(tx: MetaWriter, kind: 'active' | 'view', key: string, parent: string, labels: Labels, call: Call): Promise<Created> {
    checkKeyLength('key', key);
    checkKeyLength('parent', parent);
    await beforeWrite?.({ op: kind === 'active' ? 'prepare' : 'view', key, parent, labels }, tx, call);
    const s = tx.create(kind, key, parent, labels);
    const nearest = s.parentIds[0];
    await makeSnapshotDir(layout, s.id, kind === 'active', nearest === undefined ? undefined : { key: parent, fs: layout.upperPath(nearest) });
    return { id: s.id, mounts: mountsOf(s) };
  }

  const create = async (kind: 'active' | 'view', key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]> =>
    (await store.write((tx) => createIn(tx, kind, key, parent, labels, call))).mounts;

  async function remove(key: string, call: Call): Promise<void> {
    checkKeyLength('key', key);
    const { id } = await store.write(async (tx) => {
      await beforeWrite?.({ op: 'remove', key }, tx, call);
      return tx.remove(key);
    });
    if (layers) {
      // The record is gone: release what the hook put inside (a mount) even when the
      // directory itself waits for cleanup(); a busy one is offered again by cleanup().
      const dir = layout.snapshotDir(id);
      const busy = await layers.release([dir], call);
      if (busy.has(dir)) return;
    }
    if (asyncRemove) return; // the next cleanup() removes the directory
    // The record is gone for good; a directory that cannot be removed now is left to cleanup().
    try {
      await rm(layout.snapshotDir(id), { recursive: true, force: true });
    } catch (err) {
      call.log.warn({ err, id }, 'failed to remove snapshot directory; cleanup will retry');
    }
  }

  const remote = layers ? remotePrepare({ store, layout, layers, createIn, remove, ...(beforeWrite ? { beforeWrite } : {}) }) : undefined;

  const overlay: OverlaySnapshotter = {
    async stat(key) {
      checkKeyLength('key', key);
      return store.read((tx) => labelled(tx, tx.getInfo(key).info));
    },

    async update(info, fieldpaths) {
      checkKeyLength('name', info?.name);
      return store.write((tx) => labelled(tx, tx.update(info, fieldpaths)));
    },

    /** Active: the upper dir walked now (hard links once). Committed: recorded at commit. View: 0. */
    async usage(key, call) {
      checkKeyLength('key', key);
      const { id, info, usage } = await store.read((tx) => tx.getInfo(key));
      if (info.kind !== 'active') return usage;
      const upper = layout.upperPath(id);
      try {
        return await diskUsage(upper, call.signal);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        // Removed while we measured (NotFound), or damaged from outside (still recorded).
        const still = await store.read((tx) => tx.getInfo(key));
        if (still.id !== id) throw new NotFoundError(`snapshot ${quoteInput(key)} was removed while its usage was measured`);
        throw new MissingSnapshotDirError(key, upper);
      }
    },

    /**
     * From the metadata, as containerd's. Only the snapshot's own directory is checked (one
     * local stat): a missing one is named clearly; a parent's missing layer surfaces as the
     * kernel's ENOENT when the overlay is mounted, as with containerd (`findMissingDirs` and
     * prepare name it). With a LayerHook, the remote layers at or below are checked first.
     */
    async mounts(key, call) {
      await remote?.checkBelow(key, call);
      checkKeyLength('key', key);
      const s = await store.read((tx) => tx.getSnapshot(key));
      const dir = layout.snapshotDir(s.id);
      if (!statSync(dir, { throwIfNoEntry: false })) throw new MissingSnapshotDirError(key, dir);
      return mountsOf(s);
    },

    prepare: (key, parent, labels, call) => (remote ? remote.prepare(key, parent, labels, call) : create('active', key, parent, labels, call)),

    async view(key, parent, labels, call) {
      await remote?.checkBelow(parent, call);
      return create('view', key, parent, labels, call);
    },

    async commit(name, key, labels, call) {
      checkKeyLength('name', name);
      checkKeyLength('key', key);
      await store.write(async (tx) => {
        const { id, info } = tx.getInfo(key);
        // Only an active snapshot is worth measuring; for the others tx.commit throws the right error.
        let usage = ZERO;
        if (info.kind === 'active') {
          const upper = layout.upperPath(id);
          usage = await diskUsage(upper, call.signal).catch((err: unknown) => {
            throw isErrno(err, 'ENOENT') ? new MissingSnapshotDirError(key, upper) : err;
          });
        }
        await beforeWrite?.({ op: 'commit', name, key, labels, usage }, tx, call);
        tx.commit(key, name, usage, labels);
      });
    },

    remove,

    async *list(filter) {
      const infos = await store.read((tx) => (upperdirLabel ? tx.list().map((i) => labelled(tx, i)) : tx.list()));
      for (const info of infos) if (filter.match(info)) yield info;
    },

    /**
     * Remove every directory under `snapshots/` that no record names: directories of removed
     * snapshots (asyncRemove, failed removes) and temp dirs of creates a crash interrupted.
     * The scan runs as the only writer (no create is half-way), the deleting after it, so a
     * large directory does not hold up other writes. A LayerHook's `cleanup` runs first.
     */
    async cleanup(call) {
      await layers?.cleanup?.(call);
      const dirs = await store.write(async (tx) => {
        const ids = tx.ids();
        if (!layers) return takeUnknownDirs(layout, ids);
        // Release unrecorded snapshot directories BEFORE they are renamed (a mount inside
        // would move along); the busy ones are kept as if recorded, for the next cleanup.
        const known = new Set(ids);
        const unknown = (await readdir(layout.snapshotsDir)).filter((n) => /^[0-9]+$/.test(n) && !known.has(Number(n)));
        const busy = await layers.release(unknown.map((n) => path.join(layout.snapshotsDir, n)), call);
        const keep = [...busy].map((d) => Number(path.basename(d))).filter((n) => Number.isSafeInteger(n));
        return takeUnknownDirs(layout, [...ids, ...keep]);
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
    },

    async findMissingDirs() {
      const recorded = await store.read((tx) => tx.list().map((i) => ({ key: i.name, dir: layout.snapshotDir(tx.getInfo(i.name).id) })));
      const missing = await Promise.all(recorded.map((r) => access(r.dir).then(() => undefined, () => r)));
      return missing.filter((m): m is MissingDir => m !== undefined);
    },

    async close() {
      try {
        await layers?.close?.();
      } finally {
        await store.close();
      }
    },
  };

  const hookStatus = layers?.status?.bind(layers);
  if (hookStatus) {
    overlay.status = async (call) => {
      const { snapshots, remote: all } = await store.read((tx) => {
        const infos = tx.list();
        return { snapshots: infos.length, remote: remoteLayersOf(tx, infos, layout) };
      });
      return { snapshots, ...(await hookStatus(all, call)) };
    };
  }
  return overlay;
}
