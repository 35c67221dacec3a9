/**
 * The `memory` snapshotter: containerd's overlay snapshotter on a tmpfs, with metadata in
 * process memory. Layout: `<root>/tmpfs` (the tmpfs) holding `snapshots/<id>/{fs,work}`.
 * Nothing survives a restart: at start a tmpfs left mounted by a crashed run is unmounted and
 * a new one mounted.
 */
import { mkdir, realpath, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { BackendContext, Snapshotter } from '../../core/sdk.js';
import { MemoryMetaStore, createOverlaySnapshotter } from '../../core/sdk-overlay.js';
import type { MemoryOptions } from './options.js';
import { isMountPoint, mountTmpfs, unmountAll } from './tmpfs.js';

/** tmpfs paths of the instances open in this process: two instances must not share a root. */
const IN_USE = new Set<string>();

/** Mount the tmpfs under `ctx.root` and return a snapshotter on it. */
export async function createMemorySnapshotter(options: MemoryOptions, ctx: BackendContext): Promise<Snapshotter> {
  await mkdir(ctx.root, { recursive: true, mode: 0o700 });
  const tmpfs = path.join(await realpath(ctx.root), 'tmpfs');
  if (IN_USE.has(tmpfs)) throw new Error(`root ${ctx.root} is already used by another memory instance in this process`);
  IN_USE.add(tmpfs);
  try {
    return await onTmpfs(tmpfs, options, ctx);
  } catch (err) {
    IN_USE.delete(tmpfs);
    throw err;
  }
}

async function onTmpfs(tmpfs: string, options: MemoryOptions, ctx: BackendContext): Promise<Snapshotter> {
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
  // The shared overlay snapshotter on the tmpfs; removes delete directories at once (RAM).
  const overlay = createOverlaySnapshotter({ store: new MemoryMetaStore(), dir: tmpfs, log: ctx.log });
  let closing: Promise<void> | undefined;
  const sn: Snapshotter = {
    ...overlay,
    /** The RAM the snapshots take: the tmpfs's used blocks (the host counts the snapshots). */
    async status() {
      const fs = await statfs(tmpfs);
      return { diskBytes: (fs.blocks - fs.bfree) * fs.bsize };
    },
    /** Forget every snapshot and unmount the tmpfs (lazily when busy). Idempotent. */
    close() {
      closing ??= (async () => {
        await overlay.close();
        await unmountAll(tmpfs);
        IN_USE.delete(tmpfs);
        ctx.log.info({ tmpfs }, 'unmounted tmpfs');
      })().catch((err: unknown) => {
        closing = undefined; // let a later close() retry the unmount
        throw err;
      });
      return closing;
    },
  };
  try {
    ctx.signal.throwIfAborted();
    await mkdir(path.join(tmpfs, 'snapshots'), { mode: 0o700 });
  } catch (err) {
    await sn.close?.();
    throw err;
  }
  ctx.log.info({ tmpfs, size: options.size }, 'mounted tmpfs');
  return sn;
}
