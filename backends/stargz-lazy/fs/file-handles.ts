/**
 * Open files of one mount: the number the kernel passes back on read/release -> the node.
 * Numbers are 32-bit (fuse-native's limit), start at 1, and are not reused while open.
 */
import type { LayerNode } from '../estargz/layer-node.js';

const MAX_HANDLE = 0xffff_ffff;

export class FileHandles {
  readonly #open = new Map<number, LayerNode>();
  #next = 1;

  get size(): number {
    return this.#open.size;
  }

  add(node: LayerNode): number {
    if (this.#open.size >= MAX_HANDLE - 1) throw new RangeError('no free file handle');
    while (this.#open.has(this.#next)) this.#next = this.#next >= MAX_HANDLE ? 1 : this.#next + 1;
    const fh = this.#next;
    this.#open.set(fh, node);
    this.#next = fh >= MAX_HANDLE ? 1 : fh + 1;
    return fh;
  }

  get(fh: number): LayerNode | undefined {
    return this.#open.get(fh);
  }

  delete(fh: number): boolean {
    return this.#open.delete(fh);
  }
}
