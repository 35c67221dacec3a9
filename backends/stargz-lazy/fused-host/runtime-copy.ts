/**
 * A copy of what the FUSE-serving process runs on, kept under the backend's root so that the
 * process can run outside the snaphost container (whose files go with it):
 *
 *   <root>/runtime/<id>/node            the Node binary snaphost runs on
 *   <root>/runtime/<id>/app/…           package.json, the compiled modules fused loads and the
 *                                       production packages they import (runtime-files.ts)
 *
 * `<id>` is content-addressed (RUNTIME_ID_HEX hex digits of a sha256 over every file's relative
 * path, mode and bytes), so the same build reuses its copy and a different one gets its own. A
 * copy is written under a temporary name and renamed into place (a crash leaves no half copy);
 * `sweepRuntimes` removes the copies (and generation directories) no live process uses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../../core/sdk.js';
import { generationPaths, generationsDir } from '../protocol/generation.js';
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

/** The content id of `files` (relative to appDir) plus the Node binary. */
export async function runtimeId(src: RuntimeSource, files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const [name, abs] of [['node', src.node] as const, ...files.map((f) => [`app/${f}`, path.join(src.appDir, f)] as const)]) {
    const s = await stat(abs);
    h.update(`${name}\0${s.mode & 0o777}\0${s.size}\0`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(abs)
        .on('data', (chunk) => h.update(chunk))
        .on('end', resolve)
        .on('error', reject);
    });
  }
  return h.digest('hex').slice(0, RUNTIME_ID_HEX);
}

/** Installs (or finds) the copy of `src` under `<root>/runtime`. */
export async function installRuntime(root: string, src: RuntimeSource, log: Logger): Promise<InstalledRuntime> {
  const files = await runtimeFiles(src.appDir);
  const id = await runtimeId(src, files);
  const dir = path.join(runtimesDir(root), id);
  const command = [path.join(dir, 'node'), '--expose-gc', path.join(dir, 'app/dist/backends/stargz-lazy/fused/main.js')];
  if (await exists(path.join(dir, 'node'))) return { id, dir, command };
  await mkdir(runtimesDir(root), { recursive: true, mode: 0o700 });
  const tmp = path.join(runtimesDir(root), `.tmp-${id}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp, { mode: 0o755 });
    await copyFile(src.node, path.join(tmp, 'node'));
    await chmod(path.join(tmp, 'node'), 0o755);
    for (const f of files) {
      const to = path.join(tmp, 'app', f);
      await mkdir(path.dirname(to), { recursive: true });
      await copyFile(path.join(src.appDir, f), to);
      await chmod(to, (await stat(path.join(src.appDir, f))).mode & 0o777);
    }
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another snaphost installed the same copy first: same content, keep theirs.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
    log.info({ id, dir, files: files.length + 1 }, 'installed the runtime of the FUSE-serving process');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { id, dir, command };
}

/**
 * Removes `<root>/runtime/<id>` and `<root>/generations/<id>` for every id but `keep` whose
 * generation has no live process (its `fused.lock` names none). Returns the ids removed.
 */
export async function sweepRuntimes(root: string, keep: string | undefined, log: Logger): Promise<string[]> {
  const ids = new Set([...(await names(runtimesDir(root))), ...(await names(generationsDir(root)))]);
  const removed: string[] = [];
  for (const id of ids) {
    if (id === keep || id.startsWith('.')) continue;
    if ((await lockOwner(generationPaths(root, id).lock)) !== undefined) continue;
    await rm(path.join(runtimesDir(root), id), { recursive: true, force: true });
    await rm(generationPaths(root, id).dir, { recursive: true, force: true });
    removed.push(id);
  }
  // Temporary copies of an install that crashed.
  for (const n of await names(runtimesDir(root))) {
    if (n.startsWith('.tmp-') && !n.includes(`-${process.pid}-`)) await rm(path.join(runtimesDir(root), n), { recursive: true, force: true });
  }
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
