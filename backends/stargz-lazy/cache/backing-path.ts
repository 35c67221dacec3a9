/**
 * Where a whole-file backing file lives in the cache directory, and its key in the cache's LRU
 * index (the same index as the chunk files, so one disk cap and one recency order cover both).
 *
 * A backing file is named by its content, so identical files of different layers share one:
 * - a file whose TOC entry has a digest: key `file:<algorithm>:<hex>`, path
 *   `files/<algorithm>/<hex[0:2]>/<hex>` (the key says what the bytes must hash to);
 * - one without: key `file:chunks:<hex>`, path `files/chunks/<hex[0:2]>/<hex>`, where hex is the
 *   sha256 of its size and its chunk list (offset, size, digest of each): the same verified
 *   chunks in the same places are the same bytes.
 * Keys never look like a chunk digest (`sha256:…`), so the two kinds never collide in the index.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { digestAlgorithm } from '../estargz/digest.js';
import type { LayerNode } from '../estargz/layer-node.js';

/** Directory of the backing files, relative to the cache root. */
export const FILES_DIR = 'files';
const KEY_PREFIX = 'file:';
const CHUNKS = 'chunks';
const KEY_RE = /^file:(sha256|sha384|sha512|chunks):([0-9a-f]+)$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128, chunks: 64 };

export interface BackingPath {
  key: string;
  /** The file, relative to the cache root. */
  file: string;
  /** The whole file's digest when the key is one (`file:sha256:…`), else undefined (check by chunks). */
  digest: string | undefined;
}

/** The key and path of the backing file of regular file `node` (its bytes, wherever it is). */
export function backingPathOf(node: Pick<LayerNode, 'digest' | 'size' | 'chunks'>): BackingPath {
  if (node.digest !== undefined && digestAlgorithm(node.digest) !== undefined) return backingPath(`${KEY_PREFIX}${node.digest}`)!;
  const hash = createHash('sha256').update(`${node.size}\n`);
  for (const c of node.chunks) hash.update(`${c.chunkOffset} ${c.chunkSize} ${c.chunkDigest}\n`);
  return backingPath(`${KEY_PREFIX}${CHUNKS}:${hash.digest('hex')}`)!;
}

/** The path of backing key `key`, or undefined when `key` is not one (a chunk digest, anything else). */
export function backingPath(key: string): BackingPath | undefined {
  const m = KEY_RE.exec(key);
  if (!m || m[2]!.length !== HEX_LENGTH[m[1]!]) return undefined;
  const [, kind, hex] = m as unknown as [string, string, string];
  return { key, file: join(FILES_DIR, kind, hex.slice(0, 2), hex), digest: kind === CHUNKS ? undefined : `${kind}:${hex}` };
}

/** Whether `key` names a backing file (not a chunk). Cheap: the index asks it per eviction. */
export function isBackingKey(key: string): boolean {
  return key.startsWith(KEY_PREFIX);
}

/** The backing files under `<root>/files`: `kind` directory names, for the scan at open. */
export const BACKING_KINDS = ['sha256', 'sha384', 'sha512', CHUNKS] as const;
