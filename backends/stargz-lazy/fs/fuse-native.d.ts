/**
 * Types for the parts of `fuse-native` 2.2 (libfuse 2 high-level API, path based) that
 * snaphost uses. Callbacks take a negative errno (or 0) first; `read` answers with the
 * number of bytes (or a negative errno). Times are milliseconds since the epoch.
 */
declare module 'fuse-native' {
  namespace Fuse {
    type Callback<T = void> = T extends void ? (errno: number) => void : (errno: number, value?: T) => void;

    interface Stat {
      mode: number;
      uid: number;
      gid: number;
      size: number;
      dev?: number;
      nlink: number;
      ino: number;
      rdev?: number;
      blksize?: number;
      blocks?: number;
      atime: number;
      mtime: number;
      ctime: number;
    }

    interface Statfs {
      bsize: number;
      frsize: number;
      blocks: number;
      bfree: number;
      bavail: number;
      files: number;
      ffree: number;
      favail: number;
      fsid: number;
      flag: number;
      namemax: number;
    }

    interface Operations {
      init?(cb: (errno: number) => void): void;
      getattr?(path: string, cb: (errno: number, stat?: Stat) => void): void;
      readdir?(path: string, cb: (errno: number, names?: string[], stats?: Partial<Stat>[]) => void): void;
      readlink?(path: string, cb: (errno: number, target?: string) => void): void;
      open?(path: string, flags: number, cb: (errno: number, fd?: number) => void): void;
      opendir?(path: string, flags: number, cb: (errno: number, fd?: number) => void): void;
      read?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (result: number) => void): void;
      release?(path: string, fd: number, cb: (errno: number) => void): void;
      releasedir?(path: string, fd: number, cb: (errno: number) => void): void;
      getxattr?(path: string, name: string, position: number, cb: (errno: number, value?: Buffer) => void): void;
      listxattr?(path: string, cb: (errno: number, names?: string[]) => void): void;
      statfs?(path: string, cb: (errno: number, statfs?: Statfs) => void): void;
      access?(path: string, mode: number, cb: (errno: number) => void): void;
    }

    interface OpTimeouts {
      default?: number;
      [op: string]: number | false | undefined;
    }

    interface Options {
      /**
       * Per-operation answer deadline in ms (fuse-native answers ETIMEDOUT itself), or false for
       * none; or per operation by name, `default` for the others.
       */
      timeout?: number | false | OpTimeouts;
      allowOther?: boolean;
      defaultPermissions?: boolean;
      fsname?: string;
      subtype?: string;
      entryTimeout?: number;
      attrTimeout?: number;
      kernelCache?: boolean;
      maxRead?: number;
      debug?: boolean;
    }
  }

  class Fuse {
    constructor(mountpoint: string, ops: Fuse.Operations, opts?: Fuse.Options);
    readonly mnt: string;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    /** The `-o…` option string passed to libfuse (internal; subclasses extend it). */
    protected _fuseOptions(): string;
    static unmount(mountpoint: string, cb: (err: Error | null) => void): void;
  }

  export = Fuse;
}
