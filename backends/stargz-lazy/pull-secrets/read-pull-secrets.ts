/**
 * Reads the pull secrets named by `registry.pullSecrets`: each path is a dockerconfigjson file,
 * or a directory whose files are (a secret volume: `.dockerconfigjson` a symlink into `..data/`,
 * which Kubernetes swaps on an update; names starting with `..` are its own and skipped). Files
 * are taken in the order of the paths, a directory's in name order; for the same host and path
 * the first file wins. A broken file or path is a problem named in the result; the others are
 * used. Bounded: files per directory, bytes per file, entries and bytes in all.
 *
 * `scan` only stats (cheap enough to poll): its stamp changes when any file is replaced,
 * changed, added or removed; `read` reads what a scan found.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_CREDENTIALS_BODY_BYTES, MAX_SOURCE_ENTRIES, type WireHostCredentials } from '../protocol/credentials-protocol.js';
import { MAX_PULL_SECRET_BYTES, parsePullSecret } from './pull-secret-file.js';

/** Files read from one directory at most. */
export const MAX_FILES_PER_DIR = 64;
/** The replace request must fit in one body, with room to spare. */
const MAX_ENTRIES_BYTES = MAX_CREDENTIALS_BODY_BYTES - 4096;

export interface PullSecretsScan {
  files: string[];
  problems: string[];
  stamp: string;
}

export interface PullSecretsRead {
  entries: WireHostCredentials[];
  /** Files read, and the entries each gave. */
  files: { file: string; entries: number }[];
  /** One line per broken path, file or key: names them, never a value. */
  problems: string[];
}

export async function scanPullSecrets(paths: readonly string[]): Promise<PullSecretsScan> {
  const files: string[] = [];
  const problems: string[] = [];
  const stamps: string[] = [];
  for (const path of paths) {
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => err);
    if (st instanceof Error) {
      problems.push(`pull secret ${path}: ${st.code === 'ENOENT' ? 'does not exist' : st.message}`);
      stamps.push(`${path}:${st.code ?? 'error'}`);
      continue;
    }
    if (st.isFile()) {
      files.push(path);
      stamps.push(`${path}:${st.ino}:${st.size}:${st.mtimeMs}`);
      continue;
    }
    if (!st.isDirectory()) {
      problems.push(`pull secret ${path}: neither a file nor a directory`);
      continue;
    }
    const names = await readdir(path).catch((err: Error) => err);
    if (names instanceof Error) {
      problems.push(`pull secret directory ${path}: ${names.message}`);
      continue;
    }
    const wanted = names.filter((n) => !n.startsWith('..')).sort();
    if (wanted.length > MAX_FILES_PER_DIR) problems.push(`pull secret directory ${path}: more than ${MAX_FILES_PER_DIR} files; only the first ${MAX_FILES_PER_DIR} are read`);
    for (const name of wanted.slice(0, MAX_FILES_PER_DIR)) {
      const file = join(path, name);
      const fst = await stat(file).catch(() => undefined);
      if (fst === undefined || !fst.isFile()) continue;
      files.push(file);
      stamps.push(`${file}:${fst.ino}:${fst.size}:${fst.mtimeMs}`);
    }
  }
  return { files, problems, stamp: stamps.join('\n') };
}

export async function readPullSecrets(scan: PullSecretsScan): Promise<PullSecretsRead> {
  const entries: WireHostCredentials[] = [];
  const seen = new Set<string>();
  const files: PullSecretsRead['files'] = [];
  const problems = [...scan.problems];
  let bytes = 0;
  let full = false;
  for (const file of scan.files) {
    let text: string;
    try {
      const data = await readFile(file);
      if (data.length > MAX_PULL_SECRET_BYTES) throw new Error(`larger than ${MAX_PULL_SECRET_BYTES} bytes`);
      text = data.toString('utf8');
    } catch (err) {
      problems.push(`pull secret ${file}: ${(err as Error).message}`);
      continue;
    }
    let parsed;
    try {
      parsed = parsePullSecret(text, file);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    for (const s of parsed.skipped) problems.push(`pull secret ${file}: ${s}`);
    let used = 0;
    for (const e of parsed.entries) {
      const key = `${e.host}/${e.path ?? ''}`;
      if (seen.has(key)) continue;
      const size = JSON.stringify(e).length + 1;
      if (entries.length >= MAX_SOURCE_ENTRIES || bytes + size > MAX_ENTRIES_BYTES) {
        if (!full) problems.push(`pull secret ${file}: more than ${MAX_SOURCE_ENTRIES} registries or ${MAX_ENTRIES_BYTES} bytes in all pull secrets; the rest are left out`);
        full = true;
        break;
      }
      seen.add(key);
      bytes += size;
      entries.push(e);
      used++;
    }
    files.push({ file, entries: used });
  }
  return { entries, files, problems };
}
