/**
 * READ of the kernel transport: the bytes of a regular file through `LayerReader`, as
 * fs/layer-fs.ts reads them for fuse-native: bytes at hand (`readCached`) answered at once, the
 * others fetched with the read deadline; a read that cannot be served answers EIO and logs one
 * line naming the file, the layer and the reason; the same counters (the mount table lists them).
 *
 * Two differences: the reply carries the bytes the reader returned as they are (no copy into a
 * request buffer: the session writes them as their own writev part), and a read the kernel
 * interrupts (its caller was killed) is aborted through `interrupt` and answers EINTR, logged
 * at debug only (nothing failed).
 */
import type { Logger } from '../../../core/sdk.js';
import type { PackedTree } from '../estargz/packed-tree.js';
import { EBADF, EIO } from '../fs/errno.js';
import type { LayerReader } from '../fs/layer-fs.js';
import { ReadNodes } from '../fs/read-nodes.js';
import type { NodeRef } from './node-ids.js';

export const EINTR = -4;

/** What the mount table lists per mount (the same fields as LayerFs.counters). */
export interface ReadCounters {
  reads: number;
  bytesRead: number;
  readErrors: number;
}

export interface FileReadsOptions {
  layer: LayerReader;
  digest: string;
  log: Logger;
  readTimeoutMs: number;
}

const EMPTY = Buffer.alloc(0);

export class FileReads {
  readonly counters: ReadCounters = { reads: 0, bytesRead: 0, readErrors: 0 };
  readonly #layer: LayerReader;
  readonly #tree: PackedTree;
  readonly #nodes: ReadNodes;
  readonly #o: FileReadsOptions;

  constructor(o: FileReadsOptions) {
    this.#layer = o.layer;
    this.#tree = o.layer.index.tree;
    this.#nodes = new ReadNodes(o.layer.index);
    this.#o = o;
  }

  /**
   * Up to `size` bytes at `offset` of node `n`: the bytes (at once when at hand), a promise of
   * them, or a negative errno (EBADF: no regular file; EIO; EINTR once `interrupt` aborted).
   */
  read(n: NodeRef, offset: number, size: number, interrupt: AbortSignal): Buffer | number | Promise<Buffer | number> {
    const node = n.whiteout ? undefined : this.#nodes.get(n.ino);
    if (!node) return EBADF;
    if (offset >= node.size || size === 0) return EMPTY;
    const want = Math.min(size, node.size - offset);
    this.counters.reads++;
    if (this.#layer.readCached) {
      const target = Buffer.allocUnsafe(want);
      const got = this.#layer.readCached(node, offset, want, target);
      if (got !== undefined) {
        this.counters.bytesRead += got;
        return target.subarray(0, got);
      }
    }
    const deadline = AbortSignal.timeout(this.#o.readTimeoutMs);
    return this.#layer.read(node, offset, want, AbortSignal.any([deadline, interrupt])).then(
      (data) => {
        const out = data.length > want ? data.subarray(0, want) : data;
        this.counters.bytesRead += out.length;
        return out;
      },
      (err: unknown) => {
        if (interrupt.aborted && !deadline.aborted) {
          this.#o.log.debug({ file: this.#path(n.ino), offset, length: want }, 'read interrupted by the kernel (EINTR)');
          return EINTR;
        }
        this.counters.readErrors++;
        const reason = deadline.aborted ? `no answer within ${this.#o.readTimeoutMs} ms` : err instanceof Error ? err.message : String(err);
        const file = this.#path(n.ino);
        this.#o.log.error(
          { file, layer: this.#o.digest, offset, length: want, reason, code: (err as { code?: unknown } | undefined)?.code },
          `read of ${file} in layer ${this.#o.digest} failed (EIO): ${reason}`,
        );
        return EIO;
      },
    );
  }

  #path(ino: number): string {
    return `/${this.#tree.path(ino)}`;
  }
}
