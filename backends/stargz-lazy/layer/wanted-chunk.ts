import type { ChunkRef } from '../estargz/layer-node.js';

/** A chunk to fetch, with the file it belongs to (for messages). */
export interface WantedChunk {
  chunk: ChunkRef;
  path: string;
}
