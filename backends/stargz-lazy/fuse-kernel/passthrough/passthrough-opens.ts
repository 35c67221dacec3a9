/**
 * OPEN and RELEASE of one FUSE connection with kernel passthrough: a regular file whose bytes are
 * all in the local cache (a complete file, cache/complete-files.ts) is opened with a backing id,
 * so the kernel reads it from that file itself and the reads never reach this process; any other
 * open is answered as without passthrough (the `plain` hook: KEEP_CACHE, reads through JS). A
 * file not complete yet is made complete in the background and passes through on a later open;
 * no open waits for that.
 *
 * What the kernel requires (fs/fuse/iomode.c, Linux >= 6.9), and how it is kept here:
 * - An inode open for passthrough must be opened with passthrough, with the same backing file,
 *   until its last open file is released (EINVAL / EBUSY otherwise), and an inode open in
 *   cached mode cannot be opened for passthrough (ETXTBSY): the mode of each inode with open
 *   files is kept, and a new open follows it. The kernel leaves a mode before it sends the
 *   RELEASE that tells us, so our view is never ahead of its own.
 * - A backing id must live until the kernel took its own reference at open: one id per backing
 *   file per connection, counted by the inodes using it, closed (BACKING_CLOSE) when the last
 *   of their open files is released. Our descriptor of the file is closed at once after
 *   BACKING_OPEN (the kernel holds the file). At most `maxBackingIds` at once (more: plain opens).
 * - Every open gets its own `fh`, so RELEASE says which open ended.
 *
 * Handed over (the connection keeper restarted the FUSE-serving process): `state()` is what the
 * keeper is given whenever the inodes in passthrough change, and `resumed` takes it back, so the
 * new process answers those inodes with the same ids (passthrough-state.ts).
 *
 * Clean fallback: passthrough not agreed at INIT (an older kernel, CONFIG_FUSE_PASSTHROUGH off)
 * or BACKING_OPEN refused (EPERM without CAP_SYS_ADMIN, ELOOP when the cache directory is itself
 * on a stacked file system, ENOTTY/EOPNOTSUPP) is said ONCE per connection at warn, and every
 * later open is plain; inodes already passed through stay so until released.
 */
import { closeSync, constants } from 'node:fs';
import type { Logger } from '../../../../core/sdk.js';
import type { CompleteFile } from '../../cache/complete-files.js';
import type { LayerNode } from '../../estargz/layer-node.js';
import type { FuseDevice } from '../fuse-device.js';
import type { NodeRef } from '../node-ids.js';
import type { OpenAnswer, OpenFile } from '../open-file.js';
import { FOPEN, INIT } from '../wire/opcodes.js';
import { openBackingFile, type BackingFd } from './open-backing-file.js';
import { MAX_STATE_INODES, type PassthroughState } from './passthrough-state.js';

export interface PassthroughOpensOptions {
  device: Pick<FuseDevice, 'backingOpen' | 'backingClose'>;
  /** The connection's /dev/fuse descriptor. */
  fd: number;
  /** The answer without passthrough (it also checks the open: read-only, a regular file). */
  plain: OpenFile;
  /** The node of inode `ino` (a regular file of the layer), or undefined. */
  nodeOf(ino: number): LayerNode | undefined;
  /** The complete file of `node`, or undefined (LayerReader.completeFile). No I/O. */
  completeFile(node: LayerNode): CompleteFile | undefined;
  log: Logger;
  /** Backing ids held at once on this connection (default 4096). */
  maxBackingIds?: number;
  /** Called once passthrough is agreed at INIT (LayerReader.wantCompleteFiles). */
  onActive?: (() => void) | undefined;
  /** The state a previous process left for this connection (handed over): its inodes stay passed through. */
  resumed?: PassthroughState | undefined;
  /** Called when the inodes in passthrough change (the keeper is sent `state()`). */
  onChange?: (() => void) | undefined;
  /** Opens a backing file (default openBackingFile; tests inject). */
  openBacking?: (file: CompleteFile) => BackingFd;
}

/** What passthrough did on a connection (the mount's listing, tests). */
export interface PassthroughCounters {
  /** Opens answered with a backing id. */
  passthroughOpens: number;
  /** Regular-file opens answered without (not complete, not agreed, refused, over the cap). */
  plainOpens: number;
  backingIdsOpen: number;
  refused: number;
  /** Regular files open now (an OPEN not RELEASEd yet). */
  openFiles: number;
}

interface Backing {
  key: string;
  id: number;
  /** Inodes passed through with it. */
  inodes: number;
}

interface InodeOpens {
  /** undefined: open in cached mode (plain). */
  backing: Backing | undefined;
  handles: number;
}

/** errnos of BACKING_OPEN that will not change on this connection: passthrough is off for it. */
const PERMANENT = new Set([1 /* EPERM */, 22 /* EINVAL */, 25 /* ENOTTY */, 40 /* ELOOP */, 95 /* EOPNOTSUPP */]);

export class PassthroughOpens {
  readonly counters: PassthroughCounters = { passthroughOpens: 0, plainOpens: 0, backingIdsOpen: 0, refused: 0, openFiles: 0 };
  readonly #o: PassthroughOpensOptions;
  readonly #maxBackingIds: number;
  readonly #openBacking: (file: CompleteFile) => BackingFd;
  /** Passthrough agreed at INIT and not refused since. */
  #active = false;
  #said = false;
  #nextFh = 1n;
  readonly #handles = new Map<bigint, number>();
  readonly #inodes = new Map<number, InodeOpens>();
  readonly #backings = new Map<string, Backing>();

  constructor(o: PassthroughOpensOptions) {
    this.#o = o;
    this.#maxBackingIds = o.maxBackingIds ?? 4096;
    this.#openBacking = o.openBacking ?? openBackingFile;
    if (o.resumed) this.#resume(o.resumed);
  }

  /** The inodes in passthrough and the backing ids held (passthrough-state.ts), for a process taking over. */
  state(): PassthroughState {
    const inodes: [number, number][] = [];
    for (const [ino, opens] of this.#inodes) if (opens.backing) inodes.push([ino, opens.backing.id]);
    return { active: this.#active, inodes, backings: [...this.#backings.values()].map((b) => [b.key, b.id]) };
  }

  /**
   * Takes over the previous process's inodes: each stays passed through with its id for the rest
   * of the connection (whose opens it held is not known here: releasing one early would make a
   * later open fail), and its ids are reused for the same files. Nothing is closed.
   */
  #resume(state: PassthroughState): void {
    this.#active = state.active;
    for (const [key, id] of state.backings) this.#backings.set(key, { key, id, inodes: 0 });
    const byId = new Map([...this.#backings.values()].map((b) => [b.id, b]));
    for (const [ino, id] of state.inodes) {
      let backing = byId.get(id);
      if (backing === undefined) {
        backing = { key: `resumed:${id}`, id, inodes: 0 };
        this.#backings.set(backing.key, backing);
        byId.set(id, backing);
      }
      backing.inodes++;
      this.#inodes.set(ino, { backing, handles: Number.POSITIVE_INFINITY });
    }
    this.counters.backingIdsOpen = byId.size;
  }

  /** INIT was answered with `flags`: passthrough is on when they hold INIT.PASSTHROUGH. */
  negotiated(flags: bigint): void {
    this.#active = (flags & INIT.PASSTHROUGH) !== 0n;
    if (this.#active) this.#o.onActive?.();
    else this.#off('the kernel did not offer FUSE_PASSTHROUGH at INIT (Linux < 6.9, or CONFIG_FUSE_PASSTHROUGH off)');
  }

  readonly open: OpenFile = (node, flags) => {
    const plain = this.#o.plain(node, flags);
    if (typeof plain === 'number') return plain;
    const inode = this.#inodes.get(node.ino);
    if (inode !== undefined) return this.#handle(node, inode, plain);
    // O_DIRECT stays with the FUSE process: the backing file's file system would hold it to its
    // own alignment rules (EINVAL for an unaligned buffer), which a FUSE file does not have.
    const backing = this.#active && (flags & constants.O_DIRECT) === 0 ? this.#backingFor(node) : undefined;
    return this.#handle(node, { backing, handles: 0 }, plain);
  };

  /** RELEASE of open `fh`: the last open file of an inode releases its mode, the last inode of a backing id closes it. */
  release(fh: bigint): void {
    const ino = this.#handles.get(fh);
    if (ino === undefined) return;
    this.#handles.delete(fh);
    this.counters.openFiles = this.#handles.size;
    const inode = this.#inodes.get(ino)!;
    if (--inode.handles > 0) return;
    this.#inodes.delete(ino);
    const b = inode.backing;
    if (b === undefined) return;
    this.#o.onChange?.();
    if (--b.inodes > 0) return;
    this.#backings.delete(b.key);
    this.counters.backingIdsOpen--;
    const r = this.#o.device.backingClose(this.#o.fd, b.id);
    if (r < 0) this.#o.log.debug({ errno: -r, backingId: b.id }, 'FUSE_DEV_IOC_BACKING_CLOSE failed');
  }

  /** The connection ended: the kernel dropped its backing ids; nothing is held any more. */
  end(): void {
    this.#active = false;
    this.#handles.clear();
    this.#inodes.clear();
    this.#backings.clear();
    this.counters.backingIdsOpen = 0;
    this.counters.openFiles = 0;
  }

  #handle(node: NodeRef, inode: InodeOpens, plain: OpenAnswer): OpenAnswer {
    const fh = this.#nextFh++;
    this.#handles.set(fh, node.ino);
    this.counters.openFiles = this.#handles.size;
    if (inode.handles++ === 0) {
      this.#inodes.set(node.ino, inode);
      if (inode.backing) {
        inode.backing.inodes++;
        this.#o.onChange?.();
      }
    }
    if (inode.backing === undefined) {
      this.counters.plainOpens++;
      return { ...plain, fh };
    }
    this.counters.passthroughOpens++;
    return { fh, flags: FOPEN.PASSTHROUGH, backingId: inode.backing.id };
  }

  /** The backing id for a new open of `node`: one already held for its file, or a new one; undefined: plain. */
  #backingFor(ref: NodeRef): Backing | undefined {
    const node = ref.whiteout ? undefined : this.#o.nodeOf(ref.ino);
    const file = node === undefined ? undefined : this.#o.completeFile(node);
    if (file === undefined) return undefined;
    if (this.#passthroughInodes() >= MAX_STATE_INODES) return undefined; // what a process taking over can be told
    const held = this.#backings.get(file.key);
    if (held !== undefined || this.#backings.size >= this.#maxBackingIds) return held;
    const opened = this.#openBacking(file);
    if (!('fd' in opened)) {
      this.#o.log.debug({ path: node!.path.slice(0, 200), reason: opened.reason }, 'complete file not passed through');
      return undefined;
    }
    const id = this.#o.device.backingOpen(this.#o.fd, opened.fd);
    closeSync(opened.fd);
    if (id <= 0) {
      this.counters.refused++;
      if (PERMANENT.has(-id)) this.#off(`FUSE_DEV_IOC_BACKING_OPEN refused it (errno ${-id})`, -id);
      else this.#o.log.debug({ errno: -id }, 'FUSE_DEV_IOC_BACKING_OPEN failed; this open is served through JS');
      return undefined;
    }
    const backing = { key: file.key, id, inodes: 0 };
    this.#backings.set(file.key, backing);
    this.counters.backingIdsOpen++;
    return backing;
  }

  #passthroughInodes(): number {
    let n = 0;
    for (const b of this.#backings.values()) n += b.inodes;
    return n;
  }

  /** Passthrough off for this connection, said once. */
  #off(why: string, errno?: number): void {
    this.#active = false;
    if (this.#said) return;
    this.#said = true;
    this.#o.log.warn({ errno }, `kernel passthrough off for this mount: ${why}; complete files are read through snaphost as before`);
  }
}
