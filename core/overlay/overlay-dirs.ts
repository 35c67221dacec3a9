/**
 * The file-system half of an overlay snapshotter: making a snapshot's directory under a temp
 * name and renaming it into place, finding directories no snapshot owns, and saying clearly
 * when a directory the metadata names is gone. Metadata (names, parents, ids) is the store's.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lchownSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import type { OverlayLayout } from './overlay-mounts.js';
import { quoteInput } from '../text/truncate.js';

/** Prefix of the temp dirs a create makes in `<dir>/snapshots` (as containerd: `new-`). */
export const TEMP_PREFIX = 'new-';
/** Prefix of unrecorded snapshot directories that cleanup has taken and is deleting. */
export const GC_PREFIX = 'gc-';

/** A directory named by the metadata does not exist: the store and the disk disagree. */
export class MissingSnapshotDirError extends Error {
  constructor(
    readonly key: string,
    readonly dir: string,
  ) {
    super(
      `snapshot ${quoteInput(key)}: its directory ${dir} is missing; the metadata and the snapshot ` +
        'directories disagree (was it removed outside snaphost?). Remove the snapshot and create it again',
    );
    this.name = 'MissingSnapshotDirError';
  }
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && codes.includes(code);
}

/**
 * Build `<snapshots>/new-XXXXXX/{fs[,work]}` for snapshot `id` and rename it to
 * `<snapshots>/<id>`. `fs` is 0755 and `work` 0711 whatever the umask; `fs` takes the owner
 * of `parentFs` when given (containerd: a layer's root is owned like its parent's root).
 * On failure nothing is left behind. Call inside the store's write transaction that
 * allocated `id`, so the record and the directory appear together or not at all.
 *
 * The calls are synchronous, as containerd's: a handful of local syscalls of a few µs each,
 * made inside a write transaction that is exclusive anyway; through the thread pool they cost
 * several hundred µs per prepare.
 */
export async function makeSnapshotDir(layout: OverlayLayout, id: number, withWork: boolean, parent?: { key: string; fs: string }): Promise<void> {
  const td = mkdtempSync(path.join(layout.snapshotsDir, TEMP_PREFIX));
  try {
    const umask = process.umask();
    const fs = path.join(td, 'fs');
    makeDir(fs, 0o755, umask);
    if (withWork) makeDir(path.join(td, 'work'), 0o711, umask);
    if (parent) {
      let st;
      try {
        st = statSync(parent.fs);
      } catch (err) {
        throw isErrno(err, 'ENOENT') ? new MissingSnapshotDirError(parent.key, parent.fs) : err;
      }
      lchownSync(fs, st.uid, st.gid);
    }
    renameIntoPlace(td, layout.snapshotDir(id));
  } catch (err) {
    rmSync(td, { recursive: true, force: true });
    throw err;
  }
}

/** mkdir `dir` with exactly `mode`: chmod only when the umask took bits away. */
function makeDir(dir: string, mode: number, umask: number): void {
  mkdirSync(dir, { mode });
  if ((mode & umask) !== 0) chmodSync(dir, mode);
}

/**
 * rename(2) `from` onto `to`. The id is fresh from the store, so a directory already at `to`
 * is garbage of a write whose metadata never committed (a crash or a failed commit after the
 * rename); it is removed and the rename retried once.
 */
function renameIntoPlace(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw err;
    rmSync(to, { recursive: true, force: true });
    renameSync(from, to);
  }
}

/**
 * Everything under `<snapshots>` whose name is not one of `ids` (directories of removed
 * snapshots, temp dirs of interrupted creates, strays), ready to be deleted at leisure.
 *
 * Call as the only writer. An unrecorded `<id>` may be the leftover of a create whose
 * metadata never committed, and the store can hand that id out again, so such a directory is
 * first renamed out of the way (`gc-<id>-<random>`, a name no id or temp dir ever takes):
 * deleting it later, outside the transaction, can then never hit a new snapshot's directory.
 */
export async function takeUnknownDirs(layout: OverlayLayout, ids: Iterable<number>): Promise<string[]> {
  const known = new Set<string>();
  for (const id of ids) known.add(String(id));
  const out: string[] = [];
  for (const name of await readdir(layout.snapshotsDir)) {
    if (known.has(name)) continue;
    const from = path.join(layout.snapshotsDir, name);
    if (!/^[0-9]+$/.test(name)) {
      out.push(from);
      continue;
    }
    const to = path.join(layout.snapshotsDir, `${GC_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(from, to);
      out.push(to);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  return out;
}
