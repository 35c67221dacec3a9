/** The errno values the FUSE operations answer with (Linux numbers; fuse-native wants them negated). */
export const ENOENT = -2;
export const EIO = -5;
export const EBADF = -9;
export const ENOTDIR = -20;
export const EISDIR = -21;
export const EINVAL = -22;
export const EROFS = -30;
export const ERANGE = -34;
export const ENODATA = -61;
