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
import { open, opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_CREDENTIALS_BODY_BYTES, MAX_SOURCE_ENTRIES, type WireHostCredentials } from '../protocol/credentials-protocol.js';
import { MAX_PULL_SECRET_BYTES, parsePullSecret } from './pull-secret-file.js';

/** Files read from one directory at most. */
export const MAX_FILES_PER_DIR = 64;
/** Directory entries looked at at most (a secret volume has a handful). */
const MAX_DIR_ENTRIES = 1024;
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
    const names = await listDir(path).catch((err: Error) => err);
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
      text = (await readBounded(file, MAX_PULL_SECRET_BYTES)).toString('utf8');
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

/** The names in `dir`, at most MAX_DIR_ENTRIES of them (more is an error: not a secret volume). */
async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of await opendir(dir)) {
    if (names.length >= MAX_DIR_ENTRIES) throw new Error(`more than ${MAX_DIR_ENTRIES} entries: not a secret volume`);
    names.push(entry.name);
  }
  return names;
}

/** The file's bytes; an error when it has more than `max` (never reads more than max + 1). */
async function readBounded(file: string, max: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, size, buf.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > max) throw new Error(`larger than ${max} bytes`);
    }
    return buf.subarray(0, size);
  } finally {
    await fh.close();
  }
}
