/**
 * The chunk files already in a cache directory, for rebuilding the LRU index at open: every
 * file whose path is the `chunkPath` of a well-formed digest (`<hex[0:2]>/<hex>` for sha256,
 * `<algorithm>/<hex[0:2]>/<hex>` for the others), with its size, oldest modification first (a
 * file is written once, so that is the order the chunks came in). Anything else (the `tmp/`
 * directory, stray files) is left alone and not counted.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestAlgorithm } from '../estargz/digest.js';

export interface ScannedChunk {
  digest: string;
  size: number;
  mtimeMs: number;
}

const ALGORITHM_DIRS = ['sha384', 'sha512'] as const;
const PREFIX_RE = /^[0-9a-f]{2}$/;

export async function scanCacheDir(root: string): Promise<ScannedChunk[]> {
  const found: ScannedChunk[] = [];
  await scanAlgorithm(root, 'sha256', found);
  for (const algorithm of ALGORITHM_DIRS) await scanAlgorithm(join(root, algorithm), algorithm, found);
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs);
}

async function scanAlgorithm(dir: string, algorithm: string, found: ScannedChunk[]): Promise<void> {
  for (const prefix of await names(dir)) {
    if (!PREFIX_RE.test(prefix)) continue;
    const sub = join(dir, prefix);
    const files = (await names(sub)).filter((hex) => hex.startsWith(prefix) && digestAlgorithm(`${algorithm}:${hex}`) !== undefined);
    const stats = await Promise.all(files.map((hex) => stat(join(sub, hex)).catch(() => undefined)));
    files.forEach((hex, i) => {
      const st = stats[i];
      if (st?.isFile()) found.push({ digest: `${algorithm}:${hex}`, size: st.size, mtimeMs: st.mtimeMs });
    });
  }
}

/** Entry names of `dir`; none when it does not exist or is not a directory. */
export async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}
