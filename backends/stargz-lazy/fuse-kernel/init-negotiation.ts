/**
 * The answer to the kernel's INIT: the protocol minor both sides speak (the smaller), and the
 * capabilities a read-only layer wants, kept to those the kernel offered:
 *
 * - ASYNC_READ: the kernel may send several reads of a file at once (read-ahead in parallel;
 *   one slow read never holds the others: they are answered as each finishes).
 * - DO_READDIRPLUS, without READDIRPLUS_AUTO: every listing carries each entry's attributes. A
 *   layer is listed and then looked up name by name (overlayfs merging a directory, `find`,
 *   `ls -l`), so the attributes are always wanted; AUTO would send plain READDIR first and
 *   switch to plus only after seeing the lookups, costing a lookup per name on the way.
 * - PARALLEL_DIROPS: lookups and listings of one directory need no kernel lock between them
 *   (the tree is immutable).
 * - CACHE_SYMLINKS: a symlink's target is kept in the page cache (a layer never changes).
 * - MAX_PAGES: requests as large as the kernel allows (`maxPages`, max_pages_limit); the mount's
 *   max_read matches, so one READ carries up to that much.
 * - INIT_EXT is added by the encoder when a bit above 31 is set; none is needed here (the
 *   passthrough part adds PASSTHROUGH through `extraFlags`).
 *
 * time_gran 1: times are exact to the nanosecond. max_write the minimum (4096): read-only.
 */
import { FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, INIT } from './wire/opcodes.js';
import type { InitRequest } from './wire/request.js';
import type { InitReply } from './wire/reply.js';

/** The capabilities asked for (those the kernel did not offer are dropped). */
export const WANTED_INIT_FLAGS = INIT.ASYNC_READ | INIT.DO_READDIRPLUS | INIT.PARALLEL_DIROPS | INIT.CACHE_SYMLINKS | INIT.MAX_PAGES;
/** The page size the kernel counts max_pages in (x86_64 and aarch64 with 4 KiB pages). */
export const PAGE_SIZE = 4096;
/** The kernel's own maximum of max_pages when /proc/sys/fs/fuse/max_pages_limit is absent (FUSE_MAX_MAX_PAGES). */
export const DEFAULT_MAX_PAGES = 256;
const MAX_WRITE = 4096;
/** Background requests (reads ahead) the kernel may have pending at once. */
const MAX_BACKGROUND = 64;

export interface InitOptions {
  maxPages: number;
  /** Capabilities wanted on top of WANTED_INIT_FLAGS (kept only when the kernel offers them). */
  extraFlags?: bigint;
  /** init_out.max_stack_depth when PASSTHROUGH is agreed (passthrough/passthrough-init.ts). */
  maxStackDepth?: number;
}

/** An InitReply; or `retry` (the kernel speaks a later major: answer ours, it sends INIT again); or `unsupported` (an older major). */
export type InitOutcome = { reply: InitReply; flags: bigint } | { retry: InitReply } | { unsupported: string };

export function negotiateInit(req: Pick<InitRequest, 'major' | 'minor' | 'maxReadahead' | 'flags'>, o: InitOptions): InitOutcome {
  const base = { maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 0, maxPages: 0, flags: 0n, maxReadahead: 0 };
  if (req.major > FUSE_KERNEL_VERSION) return { retry: { ...base, major: FUSE_KERNEL_VERSION, minor: FUSE_KERNEL_MINOR_VERSION } };
  if (req.major < FUSE_KERNEL_VERSION) return { unsupported: `the kernel speaks FUSE ${req.major}.${req.minor}; snaphost needs ${FUSE_KERNEL_VERSION}.x` };
  const flags = req.flags & (WANTED_INIT_FLAGS | (o.extraFlags ?? 0n));
  return {
    flags,
    reply: {
      major: FUSE_KERNEL_VERSION,
      minor: Math.min(req.minor, FUSE_KERNEL_MINOR_VERSION),
      maxReadahead: req.maxReadahead,
      flags,
      maxBackground: MAX_BACKGROUND,
      congestionThreshold: (MAX_BACKGROUND * 3) / 4,
      maxWrite: MAX_WRITE,
      timeGran: 1,
      maxPages: (flags & INIT.MAX_PAGES) !== 0n ? o.maxPages : 0,
      maxStackDepth: (flags & INIT.PASSTHROUGH) !== 0n ? (o.maxStackDepth ?? 0) : 0,
    },
  };
}
