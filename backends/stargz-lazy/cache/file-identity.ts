/**
 * What tells a cache file from a rewrite of it: device, inode, size, change and modification
 * times. A file hashed and found right is trusted while its identity stays the same; any write
 * to it changes its ctime (and a replacement its inode), so it is checked again.
 */
export function identityOf(st: { dev: number; ino: number; size: number; ctimeMs: number; mtimeMs: number }): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.ctimeMs}:${st.mtimeMs}`;
}
