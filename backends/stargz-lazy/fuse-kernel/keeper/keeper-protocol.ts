/**
 * The messages between the connection keeper (keeper.ts) and the FUSE-serving process it runs
 * (keeper-link.ts), over Node's IPC channel (JSON). The served process is the one that mounts:
 *
 *   served → keeper  { t: 'hello' }                     once, at start
 *   keeper → served  { t: 'handover', connections }      the answer: connections kept from a
 *                                                       previous run, each at descriptor `fd` of
 *                                                       this process, with the `state` the
 *                                                       previous run gave for it ([] at first)
 *   served → keeper  { t: 'keep', id, fd, state }       "my descriptor `fd` is connection `id`"
 *                                                       (id: the mountpoint; state: what a new
 *                                                       run needs to serve it: the mount request,
 *                                                       the INIT agreed)
 *   keeper → served  { t: 'kept', id, errno }           0: a duplicate is held (pidfd_getfd)
 *   served → keeper  { t: 'release', id }               unmounted: the duplicate is closed
 *
 * Every message is checked (a bad one is logged and ignored); sizes are bounded.
 */
import { z } from 'zod';

/** A connection's id: the mountpoint (absolute path). */
const id = z.string().min(1).max(4096);
/** What the served process wants back after a restart: opaque JSON, bounded by MAX_STATE_BYTES. */
const state = z.unknown();
export const MAX_STATE_BYTES = 64 * 1024;
/** Connections one keeper holds at most (each is a descriptor passed to the restarted process). */
export const MAX_CONNECTIONS = 4096;

export const servedMessage = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello') }),
  z.object({ t: z.literal('keep'), id, fd: z.number().int().min(0).max(2 ** 31 - 1), state }),
  z.object({ t: z.literal('release'), id }),
]);
export type ServedMessage = z.infer<typeof servedMessage>;

export const handedOver = z.object({ id, fd: z.number().int().min(3).max(2 ** 31 - 1), state });
export type HandedOver = z.infer<typeof handedOver>;

export const keeperMessage = z.discriminatedUnion('t', [
  z.object({ t: z.literal('handover'), connections: z.array(handedOver).max(MAX_CONNECTIONS) }),
  z.object({ t: z.literal('kept'), id, errno: z.number().int().min(0) }),
]);
export type KeeperMessage = z.infer<typeof keeperMessage>;

/** The environment variable that tells the served process it runs under a keeper. */
export const KEEPER_ENV = 'SNAPHOST_FUSE_KEEPER';

/** JSON size of `value` (state bound check). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}
