/**
 * Sizes of the kernel's structures (include/uapi/linux/fuse.h, protocol 7.45, x86_64/aarch64:
 * naturally aligned, no implicit padding: every struct is padded to 8 bytes by explicit fields).
 * The offsets of the fields are written where each struct is encoded or decoded.
 */
export const SIZE = {
  /** fuse_in_header: len u32, opcode u32, unique u64, nodeid u64, uid, gid, pid u32, total_extlen u16, padding u16. */
  IN_HEADER: 40,
  /** fuse_out_header: len u32, error i32, unique u64. */
  OUT_HEADER: 16,
  ATTR: 88,
  ENTRY_OUT: 128,
  ATTR_OUT: 104,
  OPEN_OUT: 16,
  /** fuse_init_in since 7.36 (flags2 and unused[11]); before, 16 bytes (major, minor, max_readahead, flags). */
  INIT_IN: 64,
  INIT_IN_COMPAT: 16,
  INIT_OUT: 64,
  KSTATFS: 80,
  DIRENT: 24,
  GETXATTR_IN: 8,
  GETXATTR_OUT: 8,
  OPEN_IN: 8,
  READ_IN: 40,
  RELEASE_IN: 24,
  FLUSH_IN: 24,
  GETATTR_IN: 16,
  ACCESS_IN: 8,
  INTERRUPT_IN: 8,
  FORGET_IN: 8,
  BATCH_FORGET_IN: 8,
  FORGET_ONE: 16,
  NOTIFY_INVAL_INODE_OUT: 24,
  NOTIFY_INVAL_ENTRY_OUT: 16,
} as const;

/** fuse_dirent records are padded to 8 bytes (FUSE_DIRENT_ALIGN). */
export function direntAlign(n: number): number {
  return (n + 7) & ~7;
}
