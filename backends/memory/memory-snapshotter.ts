/**
 * The `memory` snapshotter: containerd's overlay snapshotter on a tmpfs, with metadata in
 * process memory. Layout: `<root>/tmpfs` (the tmpfs) holding `snapshots/<id>/{fs,work}`.
 * Nothing survives a restart: at start a tmpfs left mounted by a crashed run is unmounted and
 * a new one mounted.
 */
import { mkdir, realpath, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { BackendContext, Logger, SnapshotterStatus } from '../../core/sdk.js';
import { isMountPoint, MemoryMetaStore, OverlaySnapshotter } from '../../core/sdk-overlay.js';
import type { MemoryOptions } from './options.js';
import { mountTmpfs, unmountAll } from './tmpfs.js';

/** tmpfs paths of the instances open in this process: two instances must not share a root. */
const IN_USE = new Set<string>();

export class MemorySnapshotter extends OverlaySnapshotter {
  readonly #tmpfs: string;
  #closing: Promise<void> | undefined;

  /** The shared overlay snapshotter on the tmpfs; removes delete directories at once (RAM). */
  private constructor(tmpfs: string, log: Logger) {
    super({ store: new MemoryMetaStore(), dir: tmpfs, log });
    this.#tmpfs = tmpfs;
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
      await mkdir(path.join(tmpfs, 'snapshots'), { mode: 0o700 });
    } catch (err) {
      await sn.close();
      throw err;
    }
    ctx.log.info({ tmpfs, size: options.size }, 'mounted tmpfs');
    return sn;
  }

  /** The RAM the snapshots take: the tmpfs's used blocks (the host counts the snapshots). */
  async status(): Promise<SnapshotterStatus> {
    const fs = await statfs(this.#tmpfs);
    return { diskBytes: (fs.blocks - fs.bfree) * fs.bsize };
  }

  /** Forget every snapshot and unmount the tmpfs (lazily when busy). Idempotent. */
  override close(): Promise<void> {
    this.#closing ??= (async () => {
      await super.close();
      await unmountAll(this.#tmpfs);
      IN_USE.delete(this.#tmpfs);
      this.log.info({ tmpfs: this.#tmpfs }, 'unmounted tmpfs');
    })().catch((err: unknown) => {
      this.#closing = undefined; // let a later close() retry the unmount
      throw err;
    });
    return this.#closing;
  }
}
