/**
 * The `memory` snapshotter: containerd's overlay snapshotter on a tmpfs, with metadata in
 * process memory. Layout: `<root>/tmpfs` (the tmpfs) holding `snapshots/<id>/{fs,work}`.
 * Nothing survives a restart: at start a tmpfs left mounted by a crashed run is unmounted and
 * a new one mounted.
 */
import { chmod, lchown, mkdir, mkdtemp, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackendContext, Call, Info, InfoUpdate, Labels, Logger, MetaWriter, Mount, SnapshotFilter, Snapshotter, Usage } from '../../core/sdk.js';
import { diskUsage, MemoryMetaStore, OverlayLayout, overlayMounts } from '../../core/sdk.js';
import type { MemoryOptions } from './options.js';
import { isMountPoint, mountTmpfs, unmountAll } from './tmpfs.js';

/** tmpfs paths of the instances open in this process: two instances must not share a root. */
const IN_USE = new Set<string>();

export class MemorySnapshotter implements Snapshotter {
  readonly #store = new MemoryMetaStore();
  readonly #layout: OverlayLayout;
  readonly #tmpfs: string;
  readonly #log: Logger;
  #closing: Promise<void> | undefined;

  private constructor(tmpfs: string, log: Logger) {
    this.#tmpfs = tmpfs;
    this.#layout = new OverlayLayout(tmpfs);
    this.#log = log;
  }

  /** Mount the tmpfs under `ctx.root` and return a snapshotter on it. */
  static async create(options: MemoryOptions, ctx: BackendContext): Promise<MemorySnapshotter> {
    await mkdir(ctx.root, { recursive: true, mode: 0o700 });
    const tmpfs = path.join(await realpath(ctx.root), 'tmpfs');
    if (IN_USE.has(tmpfs)) throw new Error(`root ${ctx.root} is already used by another memory instance in this process`);
    IN_USE.add(tmpfs);
    try {
      return await MemorySnapshotter.#mount(tmpfs, options, ctx);
    } catch (err) {
      IN_USE.delete(tmpfs);
      throw err;
    }
  }

  static async #mount(tmpfs: string, options: MemoryOptions, ctx: BackendContext): Promise<MemorySnapshotter> {
    await mkdir(tmpfs, { recursive: true, mode: 0o700 });
    if (await isMountPoint(tmpfs)) {
      ctx.log.warn({ tmpfs }, 'unmounting the tmpfs a previous run left mounted (its snapshots are gone by design)');
      await unmountAll(tmpfs);
    }
    try {
      await mountTmpfs(tmpfs, options.size);
    } catch (err) {
      throw new Error(`cannot mount a tmpfs (size=${options.size}) at ${tmpfs}; the memory backend needs root: ${(err as Error).message}`, { cause: err });
    }
    const sn = new MemorySnapshotter(tmpfs, ctx.log);
    try {
      ctx.signal.throwIfAborted();
      await mkdir(sn.#layout.snapshotsDir, { mode: 0o700 });
    } catch (err) {
      await sn.close();
      throw err;
    }
    ctx.log.info({ tmpfs, size: options.size }, 'mounted tmpfs');
    return sn;
  }

  async stat(key: string): Promise<Info> {
    return this.#store.read((tx) => tx.getInfo(key).info);
  }

  async update(info: InfoUpdate, fieldpaths: string[]): Promise<Info> {
    return this.#store.write((tx) => tx.update(info, fieldpaths));
  }

  async usage(key: string, call: Call): Promise<Usage> {
    const { id, info, usage } = await this.#store.read((tx) => tx.getInfo(key));
    if (info.kind !== 'active') return usage;
    return diskUsage(this.#layout.upperPath(id), call.signal);
  }

  async mounts(key: string): Promise<Mount[]> {
    const s = await this.#store.read((tx) => tx.getSnapshot(key));
    return overlayMounts(s, this.#layout);
  }

  prepare(key: string, parent: string, labels: Labels): Promise<Mount[]> {
    return this.#createSnapshot('active', key, parent, labels);
  }

  view(key: string, parent: string, labels: Labels): Promise<Mount[]> {
    return this.#createSnapshot('view', key, parent, labels);
  }

  async commit(name: string, key: string, labels: Labels, call: Call): Promise<void> {
    await this.#store.write(async (tx) => {
      const { id, info } = tx.getInfo(key);
      // Only an active snapshot is worth measuring; for the others tx.commit throws the right error.
      const usage = info.kind === 'active' ? await diskUsage(this.#layout.upperPath(id), call.signal) : { size: 0, inodes: 0 };
      tx.commit(key, name, usage, labels);
    });
  }

  async remove(key: string, call: Call): Promise<void> {
    const { id } = await this.#store.write((tx) => tx.remove(key));
    // The record is gone (committed); a directory that cannot be removed now is left to cleanup().
    try {
      await rm(this.#layout.snapshotDir(id), { recursive: true, force: true });
    } catch (err) {
      call.log.warn({ err, id }, 'failed to remove snapshot directory; cleanup will retry');
    }
  }

  async *list(filter: SnapshotFilter): AsyncIterable<Info> {
    const infos = await this.#store.read((tx) => tx.list());
    for (const info of infos) if (filter.match(info)) yield info;
  }

  /** Remove directories no snapshot owns (failed removals, temp dirs of interrupted creates). */
  async cleanup(call: Call): Promise<void> {
    await this.#store.write(async (tx) => {
      const known = new Set(tx.ids().map(String));
      for (const name of await readdir(this.#layout.snapshotsDir)) {
        if (known.has(name)) continue;
        call.log.debug({ dir: name }, 'removing unreferenced snapshot directory');
        await rm(path.join(this.#layout.snapshotsDir, name), { recursive: true, force: true });
      }
    });
  }

  /** Forget every snapshot and unmount the tmpfs (lazily when busy). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#store.close();
      await unmountAll(this.#tmpfs);
      IN_USE.delete(this.#tmpfs);
      this.#log.info({ tmpfs: this.#tmpfs }, 'unmounted tmpfs');
    })().catch((err: unknown) => {
      this.#closing = undefined; // let a later close() retry the unmount
      throw err;
    });
    return this.#closing;
  }

  /**
   * Record the snapshot and make its directory in one metadata transaction: the directory is
   * built under a temp name and renamed to its id, so a failure leaves neither a record nor a
   * half-made directory (the temp dir of a crash is removed by cleanup).
   */
  #createSnapshot(kind: 'active' | 'view', key: string, parent: string, labels: Labels): Promise<Mount[]> {
    return this.#store.write(async (tx: MetaWriter) => {
      const s = tx.create(kind, key, parent, labels);
      const td = await mkdtemp(path.join(this.#layout.snapshotsDir, 'new-'));
      try {
        const fs = path.join(td, 'fs');
        await mkdir(fs);
        await chmod(fs, 0o755); // explicit: independent of the process umask
        if (kind === 'active') {
          const work = path.join(td, 'work');
          await mkdir(work);
          await chmod(work, 0o711);
        }
        const nearest = s.parentIds[0];
        if (nearest !== undefined) {
          // Like containerd: the new layer's root has the owner of the parent's root.
          const st = await stat(this.#layout.upperPath(nearest));
          await lchown(fs, st.uid, st.gid);
        }
        await rename(td, this.#layout.snapshotDir(s.id));
      } catch (err) {
        await rm(td, { recursive: true, force: true });
        throw err;
      }
      return overlayMounts(s, this.#layout);
    });
  }
}
