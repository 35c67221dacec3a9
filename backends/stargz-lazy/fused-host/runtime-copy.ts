/**
 * A copy of what the FUSE-serving process runs on, kept under the backend's root so that the
 * process can run outside the snaphost container (whose files go with it):
 *
 *   <root>/runtime/<id>/node            the Node binary snaphost runs on
 *   <root>/runtime/<id>/app/…           package.json, the compiled modules fused loads and the
 *                                       production packages they import (runtime-files.ts)
 *
 * `<id>` is content-addressed (RUNTIME_ID_HEX hex digits of a sha256 over every file's relative
 * path, mode and bytes; `.ids.json` remembers it by the files' identities), so the same build
 * reuses its copy and a different one gets its own. A
 * copy is written under a temporary name and renamed into place (a crash leaves no half copy);
 * `sweepRuntimes` removes the copies (and generation directories) no live process uses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { Logger } from '../../../core/sdk.js';
import { GENERATION_ID, generationPaths, generationsDir } from '../protocol/generation.js';
import { lockOwner } from '../protocol/lock-owner.js';
import { runtimeFiles } from './runtime-files.js';

export const RUNTIME_ID_HEX = 16;

export interface RuntimeSource {
  /** The Node binary (process.execPath). */
  node: string;
  /** The application directory: package.json, dist/, node_modules/. */
  appDir: string;
}

export interface InstalledRuntime {
  id: string;
  dir: string;
  /** `[node, --expose-gc, main.js]` inside the copy (the caller adds `--root`). */
  command: string[];
}

export function runtimesDir(root: string): string {
  return path.join(root, 'runtime');
}

/** The content id of `files` (relative to appDir) plus the Node binary: what installRuntime names the copy. */
export async function runtimeId(src: RuntimeSource, files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const [name, abs] of [['node', src.node] as const, ...files.map((f) => [`app/${f}`, path.join(src.appDir, f)] as const)]) {
    h.update(`${name}\0${(await stat(abs)).mode & 0o777}\0`);
    for await (const chunk of createReadStream(abs)) h.update(chunk as Buffer);
    h.update('\0');
  }
  return h.digest('hex').slice(0, RUNTIME_ID_HEX);
}

/**
 * Installs (or finds) the copy of `src` under `<root>/runtime`. The files' identities (path,
 * size, mtime, inode) are looked up in `<root>/runtime/.ids.json` first: the same build started
 * again finds its id without reading a byte. Otherwise every file is copied into a temporary
 * directory and hashed in the same pass, and the directory is renamed to its id (or dropped
 * when that copy exists already).
 */
export async function installRuntime(root: string, src: RuntimeSource, log: Logger): Promise<InstalledRuntime> {
  const files = await runtimeFiles(src.appDir);
  const entries: [string, string][] = [['node', src.node], ...files.map((f): [string, string] => [`app/${f}`, path.join(src.appDir, f)])];
  const key = await identityKey(entries);
  const known = (await readIds(root))[key];
  if (known !== undefined && (await exists(path.join(runtimesDir(root), known, 'node')))) return installed(root, known);
  await mkdir(runtimesDir(root), { recursive: true, mode: 0o700 });
  const tmp = path.join(runtimesDir(root), `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp, { mode: 0o755 });
    const h = createHash('sha256');
    for (const [name, abs] of entries) {
      const to = path.join(tmp, name);
      await mkdir(path.dirname(to), { recursive: true });
      const mode = (await stat(abs)).mode & 0o777;
      h.update(`${name}\0${mode}\0`);
      await pipeline(
        createReadStream(abs),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            h.update(chunk);
            done(null, chunk);
          },
        }),
        createWriteStream(to, { mode }),
      );
      h.update('\0');
    }
    const id = h.digest('hex').slice(0, RUNTIME_ID_HEX);
    const dir = path.join(runtimesDir(root), id);
    if (!(await exists(path.join(dir, 'node')))) {
      await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
        // Another snaphost installed the same copy first: same content, keep theirs.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
      log.info({ id, dir, files: entries.length }, 'installed the runtime of the FUSE-serving process');
    }
    await writeIds(root, key, id);
    return installed(root, id);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function installed(root: string, id: string): InstalledRuntime {
  const dir = path.join(runtimesDir(root), id);
  return { id, dir, command: [path.join(dir, 'node'), '--expose-gc', path.join(dir, 'app/dist/backends/stargz-lazy/fused/main.js')] };
}

/** A hash of every file's name, size, mtime and inode: the same build, unchanged, has the same key. */
async function identityKey(entries: readonly [string, string][]): Promise<string> {
  const h = createHash('sha256');
  for (const [name, abs] of entries) {
    const s = await stat(abs, { bigint: true });
    h.update(`${name}\0${s.size}\0${s.mtimeNs}\0${s.ino}\0${s.mode}\n`);
  }
  return h.digest('hex');
}

/** At most this many builds remembered in .ids.json. */
const MAX_IDS = 16;

async function readIds(root: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(path.join(runtimesDir(root), '.ids.json'), 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string' && GENERATION_ID.test(e[1])));
  } catch {
    return {};
  }
}

async function writeIds(root: string, key: string, id: string): Promise<void> {
  const ids = Object.entries({ ...(await readIds(root)), [key]: id }).slice(-MAX_IDS);
  const file = path.join(runtimesDir(root), '.ids.json');
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(Object.fromEntries(ids)));
  await rename(tmp, file);
}

/**
 * Removes `<root>/runtime/<id>` and `<root>/generations/<id>` for every id but `keep` whose
 * generation has no live process (its `fused.lock` names none). Returns the ids removed.
 */
export async function sweepRuntimes(root: string, keep: string | undefined, log: Logger): Promise<string[]> {
  const ids = new Set([...(await names(runtimesDir(root))), ...(await names(generationsDir(root)))]);
  const removed: string[] = [];
  for (const id of ids) {
    if (id === keep || !GENERATION_ID.test(id)) continue;
    if ((await lockOwner(generationPaths(root, id).lock)) !== undefined) continue;
    await rm(path.join(runtimesDir(root), id), { recursive: true, force: true });
    await rm(generationPaths(root, id).dir, { recursive: true, force: true });
    removed.push(id);
  }
  // Temporary copies of an install that crashed.
  for (const n of await names(runtimesDir(root))) {
    if (n.startsWith('.tmp-') && !n.includes(`-${process.pid}-`)) await rm(path.join(runtimesDir(root), n), { recursive: true, force: true });
  }
  // Nothing kept (a shutdown): what the ids were remembered by goes too.
  if (keep === undefined && (await names(runtimesDir(root))).every((n) => n.startsWith('.'))) await rm(path.join(runtimesDir(root), '.ids.json'), { force: true });
  if (removed.length > 0) log.info({ removed }, 'removed FUSE-serving process runtimes no process uses');
  return removed;
}

async function names(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
