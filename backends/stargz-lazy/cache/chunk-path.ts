/**
 * Where a chunk lives in the cache directory. The digest becomes a path, so it is checked
 * strictly first: only the algorithms eStargz allows, lowercase hex of the exact length.
 * sha256 (what every real writer uses) goes to `<hex[0:2]>/<hex>`, the others to
 * `<algorithm>/<hex[0:2]>/<hex>`, so the layout never mixes two algorithms in one name.
 */
import { join } from 'node:path';
import { InvalidArgumentError } from '../../../core/sdk.js';
import { digestAlgorithm, type DigestAlgorithm } from '../estargz/digest.js';

export interface ChunkPath {
  algorithm: DigestAlgorithm;
  /** Directory of the file, relative to the cache root. */
  dir: string;
  /** The file, relative to the cache root. */
  file: string;
}

/** The path of `digest` under the cache root; InvalidArgumentError when it is not a digest. */
export function chunkPath(digest: string): ChunkPath {
  const algorithm = typeof digest === 'string' ? digestAlgorithm(digest) : undefined;
  if (algorithm === undefined) {
    throw new InvalidArgumentError(`chunk cache: ${JSON.stringify(String(digest).slice(0, 140))} is not a digest like sha256:<64 lowercase hex>`);
  }
  const hex = digest.slice(algorithm.length + 1);
  const dir = algorithm === 'sha256' ? hex.slice(0, 2) : join(algorithm, hex.slice(0, 2));
  return { algorithm, dir, file: join(dir, hex) };
}
