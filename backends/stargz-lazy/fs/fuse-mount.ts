/**
 * Mounting a `LayerFs` with fuse-native, with the options a lower layer of overlayfs wants:
 *
 * - `ro`, `allow_other`, `default_permissions`: containers run as any uid and the kernel checks
 *   modes; `dev,suid` because libfuse otherwise adds `nodev,nosuid` and a layer holds device
 *   nodes and setuid programs that must behave as after a normal pull.
 * - `use_ino`, `readdir_ino`: the inode numbers of the index (hard links share one).
 * - Long `entry_timeout`, `attr_timeout`, `negative_timeout` and `kernel_cache`: a layer is
 *   immutable, so the kernel may keep names, attributes, misses and file pages as long as it
 *   likes; a warm `find` or read never reaches this process.
 * - `fsname=snaphost-stargz:<digest>`, type `fuse.snaphost-stargz`: the mount table shows which
 *   layer is mounted where (`/proc/self/mountinfo`), also after this process is gone.
 *
 * - No `open` and no `release` operation: libfuse answers both itself (handle 0; with
 *   `kernel_cache` the page cache is kept across opens), so a file read costs this process's JS
 *   thread two hand-offs (lookup, read) instead of four (layer-fs.ts `read`).
 *
 * fuse-native answers xattr size queries loosely (it always copies); the two handlers are
 * replaced here so a too-small buffer gets ERANGE, as getxattr(2)/listxattr(2) promise. getattr
 * and readdir are replaced too, to hand libfuse the stat arrays LayerFs writes straight from
 * the packed tree (fuse-native would build them again from stat objects).
 *
 * Unmounting is lazy (`fusermount -uz`, run as a child process): this process never touches
 * its own mounts itself, which would deadlock (it is the one that must answer). It is bounded
 * (bounded-unmount.ts): one that does not finish in time falls back to `umount -l`.
 */
import Fuse from 'fuse-native';
import type { Logger } from '../../../core/sdk.js';
import { fsnameOf, FUSE_SUBTYPE } from './layer-fsname.js';
import { layerUnmounter } from './layer-unmount.js';
import { ERANGE } from './errno.js';
import type { LayerFs } from './layer-fs.js';

/** Kernel cache lifetime of names and attributes, seconds. */
const CACHE_SECONDS = 86_400;
const INIT_TIMEOUT_MS = 30_000;

type Signal = (result: number, ...values: unknown[]) => void;
/** What fuse-native itself sends with a failed getattr (its native side reads the array regardless). */
const NO_STAT = new Uint32Array(18);

/**
 * Operations answered synchronously (before fuse-native's handler returns): they cannot hang,
 * so they carry no per-operation timer (a setTimeout + clearTimeout each); reads, which wait
 * for the registry, keep fuse-native's deadline as a backstop to their own.
 */
const SYNC_OPS = ['getattr', 'readdir', 'readlink', 'getxattr', 'listxattr', 'statfs'] as const;

class LayerFuse extends Fuse {
  readonly #fs: LayerFs;

  constructor(mountpoint: string, fs: LayerFs, digest: string, opTimeoutMs: number) {
    // fuse-native enables an operation only when `ops` has it; getattr, readdir and the xattr
    // ones are answered by the `_op_*` overrides below, straight in fuse-native's array forms
    // (and, for the xattrs, seeing the caller's buffer size).
    const ops: Fuse.Operations = {
      ...fs.operations(),
      getattr: answeredByOverride,
      readdir: answeredByOverride,
      getxattr: answeredByOverride,
      listxattr: answeredByOverride,
    };
    const timeout: Fuse.OpTimeouts = { default: opTimeoutMs };
    for (const op of SYNC_OPS) timeout[op] = false;
    super(mountpoint, ops, {
      timeout,
      allowOther: true,
      defaultPermissions: true,
      fsname: fsnameOf(digest),
      subtype: FUSE_SUBTYPE,
      entryTimeout: CACHE_SECONDS,
      attrTimeout: CACHE_SECONDS,
      kernelCache: true,
    });
    this.#fs = fs;
  }

  protected override _fuseOptions(): string {
    return `${super._fuseOptions()},ro,dev,suid,use_ino,readdir_ino,negative_timeout=${CACHE_SECONDS}`;
  }

  _op_getattr(signal: Signal, path: string): void {
    const stat = this.#fs.getattr(path);
    if (typeof stat === 'number') return signal(stat, NO_STAT);
    signal(0, stat);
  }

  _op_readdir(signal: Signal, path: string): void {
    const listing = this.#fs.readdir(path);
    if (typeof listing === 'number') return signal(listing);
    signal(0, listing.names, listing.stats);
  }

  _op_getxattr(signal: Signal, path: string, name: string, valueBuf: Buffer): void {
    const value = this.#fs.getxattr(path, name);
    if (typeof value === 'number') return signal(value, valueBuf.buffer);
    if (valueBuf.length === 0) return signal(value.length, valueBuf.buffer);
    if (value.length > valueBuf.length) return signal(ERANGE, valueBuf.buffer);
    value.copy(valueBuf);
    signal(value.length, valueBuf.buffer);
  }

  _op_listxattr(signal: Signal, path: string, listBuf: Buffer): void {
    const names = this.#fs.listxattr(path);
    if (typeof names === 'number') return signal(names, listBuf.buffer);
    const list = Buffer.from(names.map((n) => `${n}\0`).join(''));
    if (listBuf.length === 0) return signal(list.length, listBuf.buffer);
    if (list.length > listBuf.length) return signal(ERANGE, listBuf.buffer);
    list.copy(listBuf);
    signal(list.length, listBuf.buffer);
  }
}

function answeredByOverride(): void {
  throw new Error('unreachable: getattr, readdir and the xattrs are answered by the LayerFuse._op_* overrides');
}

export interface FuseMount {
  readonly mountpoint: string;
  /**
   * Lazy unmount (`fusermount -uz`, else `umount -l`); the file system keeps answering open
   * files until they close. Settles within a bounded time; rejects (UnavailableError) only when
   * the mount could not be detached.
   */
  unmount(): Promise<void>;
}

export interface MountLayerOptions {
  /** fuse-native's own deadline per operation (a backstop; reads have their own). */
  opTimeoutMs: number;
  log: Logger;
  /** Deadline of each unmount step; default 8 s. */
  detachTimeoutMs?: number;
}

/** Mounts `fs` at `mountpoint` (an existing empty directory); resolves once the kernel sent INIT. */
export function mountLayerFs(mountpoint: string, fs: LayerFs, digest: string, o: MountLayerOptions): Promise<FuseMount> {
  const fuse = new LayerFuse(mountpoint, fs, digest, o.opTimeoutMs);
  const closeFuse = () =>
    new Promise<void>((done, fail) => fuse.unmount((e) => (e ? fail(new Error(`fusermount -uz ${mountpoint}: ${e.message}`, { cause: e })) : done())));
  const unmount = layerUnmounter(mountpoint, digest, closeFuse, o);
  return new Promise((resolve, reject) => {
    // The kernel sends INIT as soon as the mount exists; if it never comes, give up and detach.
    const timer = setTimeout(() => {
      reject(new Error(`FUSE at ${mountpoint} did not initialise within ${INIT_TIMEOUT_MS} ms`));
      unmount().catch(() => undefined);
    }, INIT_TIMEOUT_MS);
    fuse.mount((err) => {
      clearTimeout(timer);
      if (err) return reject(new Error(`cannot mount FUSE at ${mountpoint}: ${err.message}`, { cause: err }));
      resolve({ mountpoint, unmount });
    });
  });
}
