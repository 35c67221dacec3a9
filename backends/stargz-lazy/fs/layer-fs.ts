/**
 * The FUSE operations of ONE layer: metadata (getattr, readdir, readlink, xattrs, statfs)
 * from the layer's index only, so `ls` and `find` cause no registry traffic; file contents
 * through `LayerReader.read`, which returns only verified bytes and fetches only the chunks a
 * read needs. A read that cannot be served (bad data from the registry, registry unreachable,
 * deadline passed) answers EIO and logs one line naming the file, the layer and the reason;
 * no byte that did not verify is ever returned.
 *
 * The mount is read-only and uses the kernel's permission checks (`default_permissions`), so
 * there is no `access` and nothing that writes. Every operation answers a negative errno or
 * its value. Metadata comes straight from the packed tree (no node object, no stat object):
 * libfuse 2 hands each lookup, listing and xattr query to this one JS thread, so what each
 * costs here is paid once per name a container touches (docs/benchmarks.md, "The FUSE path
 * per operation").
 */
import type Fuse from 'fuse-native';
import type { Logger } from '../../../core/sdk.js';
import type { CompleteFile } from '../cache/complete-files.js';
import type { LayerIndex } from '../estargz/layer-index.js';
import type { LayerNode } from '../estargz/layer-node.js';
import { NODE_TYPES, type PackedTree } from '../estargz/packed-tree.js';
import { EBADF, EINVAL, EIO, ENODATA, ENOENT, ENOTDIR } from './errno.js';
import { BLOCK_SIZE } from './node-stat.js';
import { ReadNodes } from './read-nodes.js';
import { PathResolver } from './resolve-path.js';
import { statArray } from './stat-array.js';
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
  /**
   * Optional: the complete file of regular file `node` (all its bytes in one local file,
   * cache/complete-files.ts) for kernel passthrough, or undefined. No I/O, never waits.
   */
  completeFile?(node: LayerNode): CompleteFile | undefined;
  /** With `completeFile`: a mount agreed passthrough with the kernel, so files are made complete from now on. */
  wantCompleteFiles?(): void;
}

export interface LayerFsOptions {
  layer: LayerReader;
  /** The layer's blob digest, named in log lines. */
  digest: string;
  log: Logger;
  /** A read that has not finished after this long answers EIO. */
  readTimeoutMs: number;
}

/** A listing in fuse-native's form: names and, index for index, their stats (stat-array.ts). */
export interface Listing {
  names: string[];
  stats: Uint32Array[];
}

const ST_RDONLY = 1;
const NAME_MAX = 255;
const UINT32_MAX = 0xffff_ffff;
const ROOT = 1;
/** Type codes of the packed tree. */
const DIR = NODE_TYPES.indexOf('dir');
const SYMLINK = NODE_TYPES.indexOf('symlink');

export class LayerFs {
  readonly #layer: LayerReader;
  readonly #tree: PackedTree;
  readonly #paths: PathResolver;
  readonly #digest: string;
  readonly #log: Logger;
  readonly #readTimeoutMs: number;
  readonly #nodes: ReadNodes;
  /** Counters for the mount table's listing. */
  readonly counters = { reads: 0, bytesRead: 0, readErrors: 0 };

  constructor(o: LayerFsOptions) {
    this.#layer = o.layer;
    this.#tree = o.layer.index.tree;
    this.#paths = new PathResolver(this.#tree);
    this.#nodes = new ReadNodes(o.layer.index);
    this.#digest = o.digest;
    this.#log = o.log;
    this.#readTimeoutMs = o.readTimeoutMs;
  }

  /** The stat of `path` in fuse-native's array layout (stat-array.ts), or a negative errno. */
  getattr(path: string): Uint32Array | number {
    try {
      const r = this.#paths.resolve(path);
      if (r === 0) return ENOENT;
      return r > 0 ? statArray(this.#tree, r, false) : statArray(this.#tree, -r, true);
    } catch (err) {
      return this.#failed('getattr', path, err);
    }
  }

  /** The entries of directory `path` ('.', '..', then TOC order, whiteouts last) with their stats, or a negative errno. */
  readdir(path: string): Listing | number {
    try {
      const dir = this.#paths.resolve(path);
      if (dir === 0) return ENOENT;
      const d = this.#tree.data;
      if (dir < 0 || d.type[dir] !== DIR) return ENOTDIR;
      const parent = dir === ROOT ? dir : d.parent[dir] || dir;
      const names = ['.', '..'];
      const stats = [statArray(this.#tree, dir, false), statArray(this.#tree, parent, false)];
      for (const whiteouts of [false, true]) {
        const start = (whiteouts ? d.whStart : d.childStart)[dir]!;
        const end = start + (whiteouts ? d.whCount : d.childCount)[dir]!;
        for (let e = start; e < end; e++) {
          names.push(d.names.toString('utf8', d.edgeNameAt[e]!, d.edgeNameAt[e]! + d.edgeNameLen[e]!));
          stats.push(statArray(this.#tree, d.edgeIno[e]!, whiteouts));
        }
      }
      return { names, stats };
    } catch (err) {
      return this.#failed('readdir', path, err);
    }
  }

  /** The target of symlink `path`, or a negative errno. */
  readlink(path: string): string | number {
    try {
      const r = this.#paths.resolve(path);
      if (r === 0) return ENOENT;
      if (r < 0 || this.#tree.data.type[r] !== SYMLINK) return EINVAL;
      return this.#tree.data.linkNames.get(r) ?? '';
    } catch (err) {
      return this.#failed('readlink', path, err);
    }
  }

  /** Value of xattr `name` of `path`, or a negative errno (ENODATA when it has none). */
  getxattr(path: string, name: string): Buffer | number {
    try {
      const r = this.#paths.resolve(path);
      if (r === 0) return ENOENT;
      return xattrsOf(this.#tree, Math.abs(r), r < 0).get(name) ?? ENODATA;
    } catch (err) {
      return this.#failed('getxattr', path, err);
    }
  }

  /** Names of the xattrs of `path`, or a negative errno. */
  listxattr(path: string): string[] | number {
    try {
      const r = this.#paths.resolve(path);
      if (r === 0) return ENOENT;
      return [...xattrsOf(this.#tree, Math.abs(r), r < 0).keys()];
    } catch (err) {
      return this.#failed('listxattr', path, err);
    }
  }

  statfs(): Fuse.Statfs {
    const blocks = Math.min(UINT32_MAX, Math.ceil(this.#layer.index.fileBytes / BLOCK_SIZE));
    const files = Math.min(UINT32_MAX, this.#layer.index.size);
    return { bsize: BLOCK_SIZE, frsize: BLOCK_SIZE, blocks, bfree: 0, bavail: 0, files, ffree: 0, favail: 0, fsid: 0, flag: ST_RDONLY, namemax: NAME_MAX };
  }

  /**
   * Reads up to `len` bytes at `pos` of regular file `path` into `buf`; `cb` gets the byte
   * count or a negative errno (EBADF: `path` is no regular file). Bytes at hand are answered at
   * once (synchronously); the others are fetched.
   *
   * There is no `open` (nor `release`): libfuse answers them itself, with handle 0 and the
   * kernel's page cache kept (`kernel_cache`), so a file costs two hand-offs to this thread
   * (its lookup and its read) instead of four. Nothing needs checking at open: the mount is
   * read-only (the kernel refuses writing opens with EROFS), the kernel opens directories with
   * `opendir`, devices and fifos without the file system, and follows symlinks.
   */
  read(path: string, buf: Buffer, len: number, pos: number, cb: (result: number) => void): void {
    let cached: number | undefined;
    let ino = 0;
    try {
      ino = Math.max(0, this.#paths.resolve(path));
      cached = this.#readCached(ino, buf, len, pos);
    } catch (err) {
      this.#log.error({ err, path }, 'read failed unexpectedly');
      return cb(EIO);
    }
    if (cached !== undefined) return cb(cached);
    this.#read(path, ino, buf, len, pos).then(cb, (err: unknown) => {
      this.#log.error({ err, path }, 'read failed unexpectedly');
      cb(EIO);
    });
  }

  /**
   * The operations fuse-native calls with callbacks (read, readlink, statfs);
   * getattr, readdir and the xattrs are answered by fuse-mount.ts straight from the methods
   * above, in fuse-native's own array forms.
   */
  operations(): Fuse.Operations {
    return {
      readlink: (path, cb) => {
        const r = this.readlink(path);
        return typeof r === 'number' ? cb(r) : cb(0, r);
      },
      read: (path, _fh, buf, len, pos, cb) => this.read(path, buf, len, pos, cb),
      statfs: (_path, cb) => cb(0, this.statfs()),
    };
  }

  /** Bytes copied into `buf` when the layer has them at hand (or the read is empty); undefined otherwise. */
  #readCached(ino: number, buf: Buffer, len: number, pos: number): number | undefined {
    if (!this.#layer.readCached) return undefined;
    const node = this.#nodes.get(ino);
    if (!node || pos >= node.size || len === 0) return undefined;
    const n = this.#layer.readCached(node, pos, Math.min(len, node.size - pos), buf);
    if (n === undefined) return undefined;
    this.counters.reads++;
    this.counters.bytesRead += n;
    return n;
  }

  async #read(path: string, ino: number, buf: Buffer, len: number, pos: number): Promise<number> {
    const node = this.#nodes.get(ino);
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

  /** A bug in a synchronous operation answers EIO (and is logged) instead of hanging the caller. */
  #failed(op: string, path: string, err: unknown): number {
    this.#log.error({ err, op, path, layer: this.#digest }, `${op} of ${path} failed unexpectedly`);
    return EIO;
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'TimeoutError';
}
