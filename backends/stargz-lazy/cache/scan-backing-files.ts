/**
 * The whole-file backing files already in a cache directory (`files/<kind>/<hex[0:2]>/<hex>`,
 * `backing-path.ts`), for rebuilding the LRU index at open: each well-named regular file with
 * its key, size and modification time. Anything else is left alone and not counted. What is
 * found is only indexed (its bytes count against the cap): it is hashed again before it serves
 * (`complete-files.ts`), since this process did not write it.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKING_KINDS, backingPath, FILES_DIR } from './backing-path.js';
import { names } from './scan-cache-dir.js';

export interface ScannedBackingFile {
  key: string;
  size: number;
  mtimeMs: number;
}

const PREFIX_RE = /^[0-9a-f]{2}$/;

export async function scanBackingFiles(root: string): Promise<ScannedBackingFile[]> {
  const found: ScannedBackingFile[] = [];
  for (const kind of BACKING_KINDS) {
    const dir = join(root, FILES_DIR, kind);
    for (const prefix of await names(dir)) {
      if (!PREFIX_RE.test(prefix)) continue;
      const sub = join(dir, prefix);
      const keys = (await names(sub)).filter((hex) => hex.startsWith(prefix) && backingPath(`file:${kind}:${hex}`) !== undefined);
      const stats = await Promise.all(keys.map((hex) => stat(join(sub, hex)).catch(() => undefined)));
      keys.forEach((hex, i) => {
        const st = stats[i];
        if (st?.isFile()) found.push({ key: `file:${kind}:${hex}`, size: st.size, mtimeMs: st.mtimeMs });
      });
    }
  }
  return found;
}
