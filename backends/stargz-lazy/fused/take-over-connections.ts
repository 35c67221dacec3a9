/**
 * At start under the connection keeper (fuse-kernel/keeper/): the layer connections a previous
 * FUSE-serving process left (handed over at descriptors of this process, with the state it
 * announced: its mount request and the INIT flags agreed) are served again, without mounting
 * (resume-mount.ts: the kernel resends what the dead process had read), and join the mount
 * table. A connection that cannot be taken over (bad state, its layer does not open) is closed
 * and released: the kernel then fails its requests with ENOTCONN, as without a keeper.
 */
import { closeSync } from 'node:fs';
import { z } from 'zod';
import type { Logger } from '../../../core/sdk.js';
import type { HandedOver, KeeperLink } from '../fuse-kernel/keeper/keeper-link.js';
import { resumeLayerKernel } from '../fuse-kernel/keeper/resume-mount.js';
import { passthroughStateSchema } from '../fuse-kernel/passthrough/passthrough-state.js';
import { StateSync } from '../fuse-kernel/passthrough/state-sync.js';
import { mountRequestSchema } from '../protocol/control-protocol.js';
import type { OpenLayer } from './layer-supply.js';
import type { ServedLayer } from './served-layer.js';
import type { ServedMounts } from './served-mounts.js';

/** What served-mounts.ts announces with each connection. */
export const keptState = z.object({ request: mountRequestSchema, initFlags: z.string().regex(/^\d{1,20}$/), passthrough: passthroughStateSchema.optional() });

export interface TakeOverDeps<L extends ServedLayer> {
  handed: readonly HandedOver[];
  keeper: KeeperLink;
  mounts: ServedMounts<L>;
  openLayer: OpenLayer<L>;
  readTimeoutMs: number;
  /** fs.passthrough now: whether files not passed through before may be (those that were stay so). */
  passthrough: boolean;
  log: Logger;
}

/** Resolves with the number of connections taken over. */
export async function takeOverConnections<L extends ServedLayer>(d: TakeOverDeps<L>): Promise<number> {
  const results = await Promise.all(d.handed.map((c) => takeOne(c, d)));
  const taken = results.filter(Boolean).length;
  d.log.info({ handed: d.handed.length, taken }, 'took the layer connections of the previous process over');
  return taken;
}

async function takeOne<L extends ServedLayer>(c: HandedOver, d: TakeOverDeps<L>): Promise<boolean> {
  const log = d.log.child({ mountpoint: c.id });
  const parsed = keptState.safeParse(c.state);
  if (!parsed.success || parsed.data.request.mountpoint !== c.id) {
    log.error({ issue: parsed.success ? 'mountpoint differs' : parsed.error.issues[0]?.message }, 'a handed-over connection with a state this process cannot use: closed');
    return giveUp(c, d);
  }
  const { request, initFlags, passthrough } = parsed.data;
  let layer: L;
  try {
    layer = await d.openLayer(request, new AbortController().signal);
  } catch (err) {
    log.error({ err, layer: request.digest }, 'cannot open the layer of a handed-over connection: closed (its readers get ENOTCONN)');
    return giveUp(c, d);
  }
  // Inodes the previous process passed through stay so, with its backing ids (passthrough-state.ts).
  const sync = new StateSync();
  let fuse;
  try {
    fuse = await resumeLayerKernel(c.fd, request.mountpoint, d.mounts.reader(layer), request.digest, {
      log,
      readTimeoutMs: d.readTimeoutMs,
      passthrough: passthrough !== undefined && d.passthrough,
      passthroughState: passthrough,
      onPassthroughChange: sync.changed,
    });
  } catch (err) {
    log.error({ err, layer: request.digest }, 'cannot serve a handed-over connection: closed (its readers get ENOTCONN)');
    return giveUp(c, d);
  }
  d.mounts.adopt(request, layer, { fuse, counters: fuse.counters });
  if (passthrough !== undefined) sync.start(() => void d.keeper.keep(c.id, c.fd, { request, initFlags, passthrough: fuse.passthroughState?.() }), () => d.mounts.serves(fuse));
  return true;
}

async function giveUp<L extends ServedLayer>(c: HandedOver, d: TakeOverDeps<L>): Promise<false> {
  try {
    closeSync(c.fd);
  } catch {
    // already closed: nothing to release here
  }
  await d.keeper.release(c.id);
  return false;
}
