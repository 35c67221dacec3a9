/**
 * The requests of one layer mount, answered as reply parts for the session (session.ts): the
 * metadata ones synchronously from the packed tree (layer-inodes.ts), READ through the layer's
 * reader (file-reads.ts; a promise when the bytes must be fetched), OPEN through the `openFile`
 * hook (open-file.ts). Names and attributes are cached by the kernel for a day (a layer is
 * immutable), missing names too (a negative entry: node id 0).
 *
 * Connection-level requests (INIT, INTERRUPT, FORGET, DESTROY, unknown opcodes) are the
 * session's; a request naming a node id the layer does not have answers ENOENT.
 */
import type { LayerIndex } from '../estargz/layer-index.js';
import { ENOENT, ERANGE } from '../fs/errno.js';
import { BLOCK_SIZE } from '../fs/node-stat.js';
import type { Attr } from './wire/attr.js';
import { DirentWriter } from './wire/dirent-writer.js';
import { FOPEN, NAME_MAX, OP } from './wire/opcodes.js';
import { replyAttr, replyData, replyEmpty, replyEntry, replyError, replyOpen, replyReadlink, replyStatfs, replyXattr, type Statfs } from './wire/reply.js';
import type { SupportedRequest } from './wire/request.js';
import type { FileReads } from './file-reads.js';
import type { LayerInodes } from './layer-inodes.js';
import type { OpenFile } from './open-file.js';

/** Kernel cache lifetime of names, attributes and misses, seconds (as fs/fuse-mount.ts). */
export const CACHE_SECONDS = 86_400;

/** Reply parts, a promise of them (a read that fetches), or undefined (no reply: FORGET). */
export type Answer = Uint8Array[] | Promise<Uint8Array[]> | undefined;

/** What the session hands layer requests to. */
export interface RequestHandler {
  /** `interrupt` aborts when the kernel interrupts the request (given to READ only). */
  handle(req: SupportedRequest, interrupt?: AbortSignal): Answer;
}

export interface LayerRequestsOptions {
  index: LayerIndex;
  inodes: LayerInodes;
  reads: FileReads;
  openFile: OpenFile;
  /** RELEASE of a regular file's open `fh` (passthrough keeps count of its opens). */
  releaseFile?: ((fh: bigint) => void) | undefined;
}

const NO_ATTR: Attr = { ino: 0n, size: 0, blocks: 0, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0 };
const DIR_OPEN_FLAGS = FOPEN.KEEP_CACHE | FOPEN.CACHE_DIR;

export class LayerRequests implements RequestHandler {
  readonly #o: LayerRequestsOptions;
  readonly #statfs: Statfs;

  constructor(o: LayerRequestsOptions) {
    this.#o = o;
    this.#statfs = {
      blocks: Math.ceil(o.index.fileBytes / BLOCK_SIZE),
      bfree: 0,
      bavail: 0,
      files: o.index.size,
      ffree: 0,
      bsize: BLOCK_SIZE,
      namelen: NAME_MAX,
      frsize: BLOCK_SIZE,
    };
  }

  handle(req: SupportedRequest, interrupt?: AbortSignal): Answer {
    const { inodes } = this.#o;
    const u = req.unique;
    switch (req.opcode) {
      case OP.LOOKUP: {
        const e = inodes.lookup(req.nodeid, req.name);
        if (e === ENOENT) return replyEntry(u, 0n, NO_ATTR, CACHE_SECONDS, 0);
        return typeof e === 'number' ? replyError(u, e) : replyEntry(u, e.nodeid, e.attr, CACHE_SECONDS, CACHE_SECONDS);
      }
      case OP.GETATTR: {
        const a = inodes.getattr(req.nodeid);
        return typeof a === 'number' ? replyError(u, a) : replyAttr(u, a, CACHE_SECONDS);
      }
      case OP.READLINK: {
        const t = inodes.readlink(req.nodeid);
        return typeof t === 'number' ? replyError(u, t) : replyReadlink(u, t);
      }
      case OP.OPEN: {
        const n = inodes.node(req.nodeid);
        const open = n ? this.#o.openFile(n, req.flags) : ENOENT;
        return typeof open === 'number' ? replyError(u, open) : replyOpen(u, open.fh, open.flags, open.backingId);
      }
      case OP.READ:
        return this.#read(req.unique, req.nodeid, req.offset, req.size, interrupt ?? NEVER);
      case OP.OPENDIR: {
        const err = inodes.checkDir(req.nodeid);
        return err < 0 ? replyError(u, err) : replyOpen(u, 0n, DIR_OPEN_FLAGS);
      }
      case OP.READDIR:
      case OP.READDIRPLUS:
        return this.#readdir(u, req.nodeid, req.offset, req.size, req.opcode === OP.READDIRPLUS);
      case OP.GETXATTR:
        return sized(u, inodes.getxattr(req.nodeid, req.name), req.size);
      case OP.LISTXATTR:
        return sized(u, inodes.listxattr(req.nodeid), req.size);
      case OP.STATFS:
        return replyStatfs(u, this.#statfs);
      case OP.RELEASE:
        this.#o.releaseFile?.(req.fh);
        return replyEmpty(u);
      case OP.RELEASEDIR:
      case OP.FLUSH:
      case OP.ACCESS:
        // Nothing is held per open file; the kernel checks modes itself (default_permissions).
        return replyEmpty(u);
      default:
        return replyError(u, ENOSYS);
    }
  }

  #read(unique: bigint, nodeid: bigint, offset: number, size: number, interrupt: AbortSignal): Answer {
    const n = this.#o.inodes.node(nodeid);
    if (!n) return replyError(unique, ENOENT);
    const r = this.#o.reads.read(n, offset, size, interrupt);
    if (typeof r === 'number') return replyError(unique, r);
    if (Buffer.isBuffer(r)) return replyData(unique, r);
    return r.then((data) => (typeof data === 'number' ? replyError(unique, data) : replyData(unique, data)));
  }

  /** Entries from index `offset` on (entry-index cookies: see LayerInodes.entryAt), as many as fit in `size`. */
  #readdir(unique: bigint, nodeid: bigint, offset: number, size: number, plus: boolean): Answer {
    const err = this.#o.inodes.checkDir(nodeid);
    if (err < 0) return replyError(unique, err);
    const out = new DirentWriter(size, plus);
    for (let i = offset; ; i++) {
      const e = this.#o.inodes.entryAt(nodeid, i);
      if (!e) break;
      const type = (e.attr.mode >> 12) & 0xf;
      const added = plus ? out.add(e.name, e.nodeid, type, i + 1, { attr: e.attr, entryTtl: CACHE_SECONDS, attrTtl: CACHE_SECONDS }) : out.add(e.name, e.attr.ino, type, i + 1);
      if (!added) break;
    }
    return out.parts(unique);
  }
}

const ENOSYS = -38;
const NEVER = new AbortController().signal;

/** An xattr value or name list for a buffer of `size`: 0 asks the size; too small answers ERANGE. */
function sized(unique: bigint, value: Buffer | number, size: number): Uint8Array[] {
  if (typeof value === 'number') return replyError(unique, value);
  if (size === 0) return replyXattr(unique, value.length);
  return value.length > size ? replyError(unique, ERANGE) : replyXattr(unique, value);
}
