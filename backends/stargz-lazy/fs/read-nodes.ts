/**
 * The nodes reads go to, by inode (a read names its file by path; layer-fs.ts resolves it).
 * Nothing is kept per open file: there is no `open` nor `release` (libfuse answers them
 * itself), a layer is read-only and a node never changes.
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

  /** The regular file with inode `ino`, or undefined when `ino` names none. */
  get(ino: number): LayerNode | undefined {
    const held = this.#held.get(ino);
    if (held) return held;
    const node = this.#index.byIno(ino);
    if (!node || node.type !== 'reg') return undefined;
    if (this.#held.size >= MAX_NODES) this.#held.delete(this.#held.keys().next().value!);
    this.#held.set(ino, node);
    return node;
  }
}
