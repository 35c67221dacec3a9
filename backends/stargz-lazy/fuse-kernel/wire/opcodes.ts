/**
 * The numbers of the kernel FUSE protocol (include/uapi/linux/fuse.h of Linux 6.18, protocol 7.45):
 * opcodes, INIT capability bits, FOPEN_* bits, notification codes. The system header of the build
 * machine may be older (Debian 12: 7.38, no passthrough or resend), so the numbers live here.
 *
 * Everything on the wire is in host byte order; snaphost runs on little-endian hosts (x86_64,
 * aarch64), and the codec reads and writes little-endian explicitly.
 */

export const FUSE_KERNEL_VERSION = 7;
/**
 * The minor we speak: 7.40 (Linux 6.9) brought passthrough (backing ids, FOPEN_PASSTHROUGH,
 * max_stack_depth) and resend (FUSE_HAS_RESEND, FUSE_NOTIFY_RESEND, the resend bit of `unique`).
 * A kernel that speaks an older minor answers with its own, and the session uses the smaller.
 */
export const FUSE_KERNEL_MINOR_VERSION = 40;
/** The node id of the root directory. */
export const FUSE_ROOT_ID = 1n;
/** The smallest read buffer the kernel accepts for /dev/fuse. */
export const FUSE_MIN_READ_BUFFER = 8192;

/** Request opcodes (enum fuse_opcode). */
export const OP = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
} as const;
export type OpName = keyof typeof OP;
export type Opcode = (typeof OP)[OpName];

const NAMES = new Map<number, OpName>(Object.entries(OP).map(([k, v]) => [v, k as OpName]));
/** The name of an opcode for logs ("LOOKUP"), or "OP_<n>" for a number we do not know. */
export function opName(opcode: number): string {
  return NAMES.get(opcode) ?? `OP_${opcode}`;
}

/**
 * INIT capability bits as one 64-bit set: `flags | flags2 << 32` (flags2 only travels when both
 * sides set INIT_EXT).
 */
export const INIT = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n,
  HAS_RESEND: 1n << 39n,
  ALLOW_IDMAP: 1n << 40n,
  OVER_IO_URING: 1n << 41n,
  REQUEST_TIMEOUT: 1n << 42n,
} as const;

/** The names of the bits set in an INIT flag set, for logs and recordings. */
export function initFlagNames(flags: bigint): string[] {
  return Object.entries(INIT)
    .filter(([, bit]) => (flags & bit) !== 0n)
    .map(([name]) => name);
}

/** fuse_open_out.open_flags. */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

/** Notification codes (fuse_out_header.error of a message with unique 0). */
export const NOTIFY = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
} as const;

/** The high bit of `unique` marks a request the kernel resent after FUSE_NOTIFY_RESEND (7.40). */
export const FUSE_UNIQUE_RESEND = 1n << 63n;

/**
 * An INTERRUPT's own unique is the interrupted request's unique with bit 0 set (FUSE_INT_REQ_BIT):
 * it never collides with a request's, and the only answer it may get is EAGAIN.
 */
export const FUSE_INT_REQ_BIT = 1n;

/** fuse_getattr_in.getattr_flags: `fh` is valid. */
export const FUSE_GETATTR_FH = 1 << 0;
/** fuse_release_in.release_flags. */
export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
/** fuse_read_in.read_flags: `lockOwner` is valid. */
export const FUSE_READ_LOCKOWNER = 1 << 1;

/** fuse_attr.flags. */
export const FUSE_ATTR_SUBMOUNT = 1 << 0;
export const FUSE_ATTR_DAX = 1 << 1;

/** The directory entry types of fuse_dirent.type (the DT_* of dirent.h: mode >> 12). */
export const DT = {
  UNKNOWN: 0,
  FIFO: 1,
  CHR: 2,
  DIR: 4,
  BLK: 6,
  REG: 8,
  LNK: 10,
  SOCK: 12,
} as const;

/** The longest file name the kernel sends or accepts (NAME_MAX). */
export const NAME_MAX = 255;
/** The longest xattr name (XATTR_NAME_MAX) and value (XATTR_SIZE_MAX). */
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;
