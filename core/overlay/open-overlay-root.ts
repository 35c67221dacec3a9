/**
 * The start of every on-disk overlay backend: the root made (0700) and resolved (mount sources
 * must be absolute and symlink-free), overlayfs checked usable there, `<root>/snapshots` made,
 * and the LMDB metadata store opened at `<root>/metadata`. The caller owns the store (closes it
 * if it fails to build its snapshotter).
 */
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { BackendContext } from '../contract/define-backend.js';
import { LmdbMetaStore } from '../metastore/lmdb-metastore.js';
import { checkOverlaySupport } from './overlay-support.js';

export async function openOverlayRoot(ctx: BackendContext): Promise<{ root: string; store: LmdbMetaStore }> {
  await mkdir(ctx.root, { recursive: true, mode: 0o700 });
  const root = await realpath(ctx.root);
  await checkOverlaySupport(root);
  ctx.signal.throwIfAborted();
  await mkdir(path.join(root, 'snapshots'), { recursive: true, mode: 0o700 });
  const store = await LmdbMetaStore.open(path.join(root, 'metadata'), { log: ctx.log });
  return { root, store };
}
