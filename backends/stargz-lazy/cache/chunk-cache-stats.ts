/** What `ChunkCache.stats()` reports (counters since the process started, sizes now). */
export interface ChunkCacheStats {
  memoryBytes: number;
  memoryChunks: number;
  memoryHits: number;
  diskHits: number;
  misses: number;
  /** Disk files that failed verification (and were removed). */
  corrupt: number;
  writes: number;
  writeErrors: number;
  /** Bytes of the chunk files on disk now. */
  diskBytes: number;
  /** The cap of `diskBytes`; 0: none. */
  diskLimitBytes: number;
  /** Chunk files removed by the cap so far. */
  evictions: number;
}
