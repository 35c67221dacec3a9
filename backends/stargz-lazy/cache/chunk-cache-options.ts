/** The options of `ChunkCache.open`, and their checks (before anything is opened). */
import { InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import { DEFAULT_LIMITS } from '../estargz/limits.js';
import type { CompleteFilesLimits } from './complete-files.js';

export interface ChunkCacheOptions {
  /** Budget of the memory LRU in bytes; 0 turns it off. */
  memoryBytes: number;
  /** Cap of the cache directory's files (chunks and backing files) in bytes; 0 (the default) turns it off. */
  diskBytes?: number | undefined;
  log: Logger;
  /** Files larger than this are not chunks: removed on read. Default: the eStargz `maxChunkBytes` limit. */
  maxChunkBytes?: number;
  /** Bounds of the whole-file backing files (`complete-files.ts`); defaults there. */
  files?: Partial<CompleteFilesLimits> | undefined;
}

/** The checked `maxChunkBytes` and `diskBytes` (defaults applied); InvalidArgumentError naming the bad one. */
export function checkCacheOptions(dir: string, opts: ChunkCacheOptions): { maxChunkBytes: number; diskBytes: number } {
  if (typeof dir !== 'string' || dir === '' || dir.includes('\0')) {
    throw new InvalidArgumentError(`chunk cache: directory must be a non-empty path, got ${JSON.stringify(dir)}`);
  }
  if (!Number.isSafeInteger(opts.memoryBytes) || opts.memoryBytes < 0) {
    throw new InvalidArgumentError(`chunk cache: memoryBytes must be a non-negative integer, got ${opts.memoryBytes}`);
  }
  const maxChunkBytes = opts.maxChunkBytes ?? DEFAULT_LIMITS.maxChunkBytes;
  if (!Number.isSafeInteger(maxChunkBytes) || maxChunkBytes <= 0) {
    throw new InvalidArgumentError(`chunk cache: maxChunkBytes must be a positive integer, got ${maxChunkBytes}`);
  }
  const diskBytes = opts.diskBytes ?? 0;
  if (!Number.isSafeInteger(diskBytes) || diskBytes < 0) {
    throw new InvalidArgumentError(`chunk cache: diskBytes must be a non-negative integer (0: no cap), got ${diskBytes}`);
  }
  return { maxChunkBytes, diskBytes };
}
