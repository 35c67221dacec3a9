/**
 * The nodes reads go to. A file's handle is its inode number (`open` answers it), so nothing
 * is kept per open file and `release` needs no answer from this process: libfuse answers it
 * itself, one hand-off between its thread and the JS thread less per file opened (a layer is
 * read-only and a node never changes, so there is nothing to flush or forget at close).
 *
 * The nodes of the files read last are held (at most `MAX_NODES`, oldest out), so the reads of
 * one file, 128 KiB each, reuse one node and its chunk list instead of making them again.
 */
import type { LayerIndex } from '../estargz/layer-index.js';
import type { LayerNode } from '../estargz/layer-node.js';

/** Nodes held per mount (a few hundred bytes each, plus their chunk lists). */
export const MAX_NODES = 64;

export class ReadNodes {
  readonly #index: LayerIndex;
  readonly #held = new Map<number, LayerNode>();

  constructor(index: LayerIndex) {
    this.#index = index;
  }

  get size(): number {
    return this.#held.size;
  }

  /** The regular file whose handle (inode) is `fh`, or undefined when `fh` names none. */
  get(fh: number): LayerNode | undefined {
    const held = this.#held.get(fh);
    if (held) return held;
    const node = this.#index.byIno(fh);
    if (!node || node.type !== 'reg') return undefined;
    if (this.#held.size >= MAX_NODES) this.#held.delete(this.#held.keys().next().value!);
    this.#held.set(fh, node);
    return node;
  }
}
