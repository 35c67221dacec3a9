/**
 * The FUSE operations of ONE layer: metadata (getattr, readdir, readlink, xattrs, statfs)
 * from the layer's index only, so `ls` and `find` cause no registry traffic; file contents
 * through `LayerReader.read`, which returns only verified bytes and fetches only the chunks a
 * read needs. A read that cannot be served (bad data from the registry, registry unreachable,
 * deadline passed) answers EIO and logs one line naming the file, the layer and the reason;
 * no byte that did not verify is ever returned.
 *
 * The mount is read-only and uses the kernel's permission checks (`default_permissions`), so
 * there is no `access` and nothing that writes. Callbacks answer a negative errno or 0.
 */
import type Fuse from 'fuse-native';
import type { Logger } from '../../../core/sdk.js';
import type { LayerIndex } from '../estargz/layer-index.js';
import type { LayerNode } from '../estargz/layer-node.js';
import { EBADF, EINVAL, EIO, EISDIR, ENODATA, ENOENT, ENOTDIR, EROFS } from './errno.js';
import { FileHandles } from './file-handles.js';
import { BLOCK_SIZE, statOf, whiteoutStatOf } from './node-stat.js';
import { resolvePath, type Resolved } from './resolve-path.js';
import { xattrsOf } from './xattrs.js';

/** What the file system reads through (`RemoteLayer` in production). */
export interface LayerReader {
  readonly index: LayerIndex;
  /** Verified bytes [offset, offset + length) of regular file `node`, clamped to its size. */
  read(node: LayerNode, offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  /**
   * Optional fast path: copy those bytes into `target` at once when they are at hand (verified,
   * in memory) and answer how many; undefined when `read` must fetch them.
   */
  readCached?(node: LayerNode, offset: number, length: number, target: Buffer): number | undefined;
}

export interface LayerFsOptions {
  layer: LayerReader;
  /** The layer's blob digest, named in log lines. */
  digest: string;
  log: Logger;
  /** A read that has not finished after this long answers EIO. */
  readTimeoutMs: number;
}

const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const ST_RDONLY = 1;
const NAME_MAX = 255;
const UINT32_MAX = 0xffff_ffff;

export class LayerFs {
  readonly #layer: LayerReader;
  readonly #digest: string;
  readonly #log: Logger;
  readonly #readTimeoutMs: number;
  readonly #handles = new FileHandles();
  /** Counters for the mount table's listing. */
  readonly counters = { reads: 0, bytesRead: 0, readErrors: 0 };

  constructor(o: LayerFsOptions) {
    this.#layer = o.layer;
    this.#digest = o.digest;
    this.#log = o.log;
    this.#readTimeoutMs = o.readTimeoutMs;
  }

  get openFiles(): number {
    return this.#handles.size;
  }

  /** The operation table for fuse-native. */
  operations(): Fuse.Operations {
    return {
      getattr: (path, cb) => this.#guard('getattr', path, cb, () => {
        const r = this.#resolve(path);
        if (!r) return cb(ENOENT);
        cb(0, r.whiteout ? whiteoutStatOf(r.node) : statOf(r.node));
      }),
      readdir: (path, cb) => this.#guard('readdir', path, cb, () => this.#readdir(path, cb)),
      readlink: (path, cb) => this.#guard('readlink', path, cb, () => {
        const r = this.#resolve(path);
        if (!r) return cb(ENOENT);
        if (r.whiteout || r.node.type !== 'symlink') return cb(EINVAL);
        cb(0, r.node.linkName);
      }),
      open: (path, flags, cb) => this.#guard('open', path, cb, () => {
        const r = this.#resolve(path);
        if (!r) return cb(ENOENT);
        if ((flags & O_ACCMODE) !== O_RDONLY) return cb(EROFS);
        if (r.node.type === 'dir' && !r.whiteout) return cb(EISDIR);
        if (r.whiteout || r.node.type !== 'reg') return cb(EINVAL);
        cb(0, this.#handles.add(r.node));
      }),
      read: (path, fd, buf, len, pos, cb) => {
        // Warm reads are answered here, synchronously; the others go through the async path.
        let cached: number | undefined;
        try {
          cached = this.#readCached(fd, buf, len, pos);
        } catch (err) {
          this.#log.error({ err, path }, 'read failed unexpectedly');
          return cb(EIO);
        }
        if (cached !== undefined) return cb(cached);
        this.#read(path, fd, buf, len, pos).then(cb, (err: unknown) => {
          this.#log.error({ err, path }, 'read failed unexpectedly');
          cb(EIO);
        });
      },
      release: (path, fd, cb) => this.#guard('release', path, cb, () => cb(this.#handles.delete(fd) ? 0 : EBADF)),
      statfs: (path, cb) => this.#guard('statfs', path, cb, () => cb(0, this.#statfs())),
    };
  }

  /** Value of xattr `name` of `path`, or a negative errno (ENODATA when it has none). */
  getxattr(path: string, name: string): Buffer | number {
    const r = this.#resolve(path);
    if (!r) return ENOENT;
    return xattrsOf(r.node, r.whiteout).get(name) ?? ENODATA;
  }

  /** Names of the xattrs of `path`, or a negative errno. */
  listxattr(path: string): string[] | number {
    const r = this.#resolve(path);
    if (!r) return ENOENT;
    return [...xattrsOf(r.node, r.whiteout).keys()];
  }

  #resolve(path: string): Resolved | undefined {
    return resolvePath(this.#layer.index, path);
  }

  #readdir(path: string, cb: (errno: number, names?: string[], stats?: Partial<Fuse.Stat>[]) => void): void {
    const r = this.#resolve(path);
    if (!r) return cb(ENOENT);
    if (r.whiteout || r.node.type !== 'dir') return cb(ENOTDIR);
    const dir = r.node;
    const parent = path === '/' ? dir : (this.#resolve(path.slice(0, path.lastIndexOf('/')) || '/')?.node ?? dir);
    const names = ['.', '..'];
    const stats: Partial<Fuse.Stat>[] = [statOf(dir), statOf(parent)];
    for (const [name, child] of dir.children) {
      names.push(name);
      stats.push(statOf(child));
    }
    for (const [name, wh] of dir.whiteouts) {
      names.push(name);
      stats.push(whiteoutStatOf(wh));
    }
    cb(0, names, stats);
  }

  /** Bytes copied into `buf` when the layer has them at hand (or the read is empty); undefined otherwise. */
  #readCached(fd: number, buf: Buffer, len: number, pos: number): number | undefined {
    if (!this.#layer.readCached) return undefined;
    const node = this.#handles.get(fd);
    if (!node || pos >= node.size || len === 0) return undefined;
    const n = this.#layer.readCached(node, pos, Math.min(len, node.size - pos), buf);
    if (n === undefined) return undefined;
    this.counters.reads++;
    this.counters.bytesRead += n;
    return n;
  }

  async #read(path: string, fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
    const node = this.#handles.get(fd);
    if (!node) return EBADF;
    if (pos >= node.size || len === 0) return 0;
    const want = Math.min(len, node.size - pos);
    this.counters.reads++;
    try {
      const data = await this.#layer.read(node, pos, want, AbortSignal.timeout(this.#readTimeoutMs));
      const n = Math.min(data.length, want);
      data.copy(buf, 0, 0, n);
      this.counters.bytesRead += n;
      return n;
    } catch (err) {
      this.counters.readErrors++;
      const reason = isTimeout(err) ? `no answer within ${this.#readTimeoutMs} ms` : err instanceof Error ? err.message : String(err);
      this.#log.error(
        { file: path, layer: this.#digest, offset: pos, length: want, reason, code: (err as { code?: unknown }).code },
        `read of ${path} in layer ${this.#digest} failed (EIO): ${reason}`,
      );
      return EIO;
    }
  }

  #statfs(): Fuse.Statfs {
    const blocks = Math.min(UINT32_MAX, Math.ceil(this.#layer.index.fileBytes / BLOCK_SIZE));
    const files = Math.min(UINT32_MAX, this.#layer.index.size);
    return { bsize: BLOCK_SIZE, frsize: BLOCK_SIZE, blocks, bfree: 0, bavail: 0, files, ffree: 0, favail: 0, fsid: 0, flag: ST_RDONLY, namemax: NAME_MAX };
  }

  /** Runs a synchronous operation; a bug in it answers EIO (and is logged) instead of hanging the caller. */
  #guard(op: string, path: string, cb: (errno: number) => void, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err, op, path, layer: this.#digest }, `${op} of ${path} failed unexpectedly`);
      cb(EIO);
    }
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'TimeoutError';
}
