/**
 * `quota-overlay`: a snaphost backend published as its own npm package. It imports only the
 * public SDK (`'snaphost'`, a peer dependency: the snaphost that loads it provides it).
 *
 *   { use: 'snaphost-quota-overlay', name: 'quota', options: { maxLayerSize: '512m', maxTotalSize: '20g' } }
 *
 * Layout under the instance root: `metadata/` (LMDB: names, parents, labels, usage) and
 * `snapshots/<id>/{fs,work}`, exactly as containerd's overlay snapshotter; snapshots survive
 * restarts and crashes.
 */
import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { defineBackend, z } from 'snaphost';
import { checkOverlaySupport, LmdbMetaStore } from 'snaphost/overlay';
import { QuotaSnapshotter } from './quota-snapshotter.mjs';
import { Size } from './size.mjs';

export default defineBackend({
  name: 'quota-overlay',
  apiVersion: 1,
  description: "containerd's overlay snapshotter with per-layer and total size quotas, enforced at commit",
  options: z
    .object({
      /** Largest committed layer (bytes, or "512m"); unset: no limit. */
      maxLayerSize: Size.optional(),
      /** Largest sum of committed layers (bytes, or "20g"); unset: no limit. */
      maxTotalSize: Size.optional(),
      /** Leave removed snapshots' directories to `cleanup` (containerd's async remove). */
      asyncRemove: z.boolean().default(false),
    })
    .strict(),
  async create(options, ctx) {
    const root = await realpath(ctx.root); // mount sources must be absolute and symlink-free
    await checkOverlaySupport(root);
    await mkdir(join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    const store = await LmdbMetaStore.open(join(root, 'metadata'), { log: ctx.log });
    try {
      const sn = new QuotaSnapshotter({ store, dir: root, log: ctx.log, ...options });
      // Directories a crash left behind (interrupted creates, removed snapshots) go now.
      await sn.cleanup({ signal: ctx.signal, log: ctx.log });
      ctx.log.info({ root, maxLayerSize: options.maxLayerSize, maxTotalSize: options.maxTotalSize }, 'quota-overlay ready');
      return sn;
    } catch (err) {
      await store.close();
      throw err;
    }
  },
});
