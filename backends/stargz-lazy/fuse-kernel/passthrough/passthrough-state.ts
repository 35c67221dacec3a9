/**
 * What a new FUSE-serving process needs to keep serving a connection whose inodes the previous
 * one passed through (handed over by the connection keeper, fuse-kernel/keeper/): the kernel
 * keeps those inodes in passthrough with THEIR backing file until their last open file is
 * released, refusing a plain open (EINVAL) or another backing file (EBUSY) meanwhile; and the
 * backing ids the previous process registered stay valid on the connection. So the state is
 * the inodes in passthrough with their backing id, and the ids by backing file. Sent to the
 * keeper whenever that set changes; bounded (MAX_STATE_INODES: the keeper's state is at most
 * 64 KiB), beyond which new files are opened plain.
 */
import { z } from 'zod';

export const MAX_STATE_INODES = 2048;
const u32 = z.number().int().min(1).max(0xffff_ffff);

export const passthroughStateSchema = z
  .object({
    active: z.boolean(),
    /** [inode, backing id] of every inode in passthrough. */
    inodes: z.array(z.tuple([u32, u32])).max(MAX_STATE_INODES),
    /** [backing file key, backing id] of every id held. */
    backings: z.array(z.tuple([z.string().max(200), u32])).max(MAX_STATE_INODES),
  })
  .strict();
export type PassthroughState = z.infer<typeof passthroughStateSchema>;
