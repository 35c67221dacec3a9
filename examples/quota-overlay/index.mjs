/**
 * `quota-overlay`: a snaphost backend in its own npm package. containerd's overlay snapshotter
 * (the SDK's, on a durable LMDB store: survives restarts and crashes) with size quotas checked
 * where a layer becomes permanent: a commit over `maxLayerSize`, or one that would take the
 * committed layers over `maxTotalSize`, is refused (FAILED_PRECONDITION naming the quota) and
 * the snapshot stays active, so the caller can remove it.
 *   { use: 'snaphost-quota-overlay', name: 'quota', options: { maxLayerSize: '512m', maxTotalSize: '20g' } }
 */
import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { defineBackend, FailedPreconditionError, z } from 'snaphost';
import { checkOverlaySupport, createOverlaySnapshotter, LmdbMetaStore } from 'snaphost/overlay';
import { Size } from './size.mjs';

export default defineBackend({
  name: 'quota-overlay',
  apiVersion: 2,
  description: "containerd's overlay snapshotter with per-layer and total size quotas, enforced at commit",
  options: z
    .object({ maxLayerSize: Size.optional(), maxTotalSize: Size.optional(), asyncRemove: z.boolean().default(false) })
    .strict(),
  async create({ maxLayerSize, maxTotalSize, asyncRemove }, ctx) {
    const root = await realpath(ctx.root); // mount sources must be absolute and symlink-free
    await checkOverlaySupport(root);
    await mkdir(join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    const store = await LmdbMetaStore.open(join(root, 'metadata'), { log: ctx.log });
    // Inside the store's write transaction, as the only writer: no other commit between the sum and this one.
    const beforeWrite = ({ op, key, usage }, tx) => {
      if (op !== 'commit' || tx.getInfo(key).info.kind !== 'active') return; // views etc.: the store refuses them
      if (maxLayerSize !== undefined && usage.size > maxLayerSize) {
        throw new FailedPreconditionError(`quota: snapshot ${JSON.stringify(key)} holds ${usage.size} bytes, over maxLayerSize (${maxLayerSize} bytes)`);
      }
      const committed = maxTotalSize === undefined ? 0 : tx.list().reduce((n, i) => n + (i.kind === 'committed' ? tx.getInfo(i.name).usage.size : 0), 0);
      if (maxTotalSize !== undefined && committed + usage.size > maxTotalSize) {
        throw new FailedPreconditionError(
          `quota: committing snapshot ${JSON.stringify(key)} (${usage.size} bytes) would take the committed layers to ${committed + usage.size} bytes, over maxTotalSize (${maxTotalSize} bytes)`,
        );
      }
    };
    try {
      const sn = createOverlaySnapshotter({ store, dir: root, log: ctx.log, asyncRemove, beforeWrite });
      await sn.cleanup({ signal: ctx.signal, log: ctx.log }); // directories a crash left behind
      ctx.log.info({ root, maxLayerSize, maxTotalSize }, 'quota-overlay ready');
      return sn;
    } catch (err) {
      await store.close();
      throw err;
    }
  },
});
