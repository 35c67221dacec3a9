/**
 * What INIT asks for passthrough: the FUSE_PASSTHROUGH capability (flags2; kept only when the
 * kernel offers it) and `max_stack_depth` 1.
 *
 * Why 1: the kernel gives the FUSE super block the stack depth the server asks for, and refuses a
 * backing file whose own file system is at that depth or deeper (ELOOP). A layer mount is a LOWER
 * layer of the container's overlayfs, which sits one level above its deepest lower layer and may
 * be at most FILESYSTEM_MAX_STACK_DEPTH (2): with 1, overlayfs on the FUSE mount is at depth 2 and
 * mounts; with 2 it would be refused ("maximum fs stacking depth exceeded"). Backing files live in
 * the cache directory on a plain file system (ext4, xfs: depth 0 < 1). A cache directory that is
 * itself on overlayfs (depth 1, e.g. snaphost run inside a container) makes BACKING_OPEN answer
 * ELOOP: passthrough is then off for the mount (said once), reads go through snaphost as before.
 */
import { INIT } from '../wire/opcodes.js';

export const PASSTHROUGH_INIT_FLAGS = INIT.PASSTHROUGH;
export const PASSTHROUGH_MAX_STACK_DEPTH = 1;
