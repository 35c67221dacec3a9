/**
 * Which remote snapshots of a stargz-lazy root need their layer mounted again at start: every
 * committed snapshot labelled `containerd.io/snapshot/remote` whose `snapshots/<id>/fs` is
 * not a mount that answers. A mount left by a FUSE process that died answers ENOTCONN: it is
 * detached here (lazily: a container still holding it keeps its error, a new mount can go
 * there). A mount that answers is served by the running process and is left alone, as is one
 * that does not answer in time (a busy process, not a dead one: detaching it would break the
 * containers reading through it).
 */
import { statfs } from 'node:fs/promises';
import { LABEL_REMOTE, type Labels } from '../../../core/sdk.js';
import { detachMount, mountsUnder, REMOTE_SNAPSHOT_LABEL_VALUE, type LmdbMetaStore, type OverlayLayout } from '../../../core/sdk-overlay.js';
import { describeError, errorCode } from './error-code.js';
import type { RestoreFailure } from './restore-failure.js';

export interface RemoteSnapshot {
  /** The committed name (containerd's chain id). */
  name: string;
  /** Its layer's mount point, `snapshots/<id>/fs`. */
  mountpoint: string;
  labels: Labels;
  /** Remote snapshots below it: restores go bottom first. */
  depth: number;
}

export interface RestoreCandidates {
  /** Remote snapshots whose layer is served now. */
  served: RemoteSnapshot[];
  /** Not served: mount them again (stale mounts already detached). */
  toRestore: RemoteSnapshot[];
  /** Not served and cannot be mounted again here. */
  failed: (RemoteSnapshot & RestoreFailure)[];
}

/** A live FUSE process answers statfs at once; a dead one's mount fails with ENOTCONN. */
const STATFS_TIMEOUT_MS = 5_000;
/** What a FUSE mount answers once its process is gone (ECONNABORTED: after a forced abort). */
const DEAD_FUSE = new Set(['ENOTCONN', 'ECONNABORTED']);

export async function findRestoreCandidates(store: LmdbMetaStore, layout: OverlayLayout): Promise<RestoreCandidates> {
  const remote = await store.read((tx) => {
    const out: RemoteSnapshot[] = [];
    for (const info of tx.list()) {
      if (info.kind !== 'committed' || info.labels[LABEL_REMOTE] !== REMOTE_SNAPSHOT_LABEL_VALUE) continue;
      let depth = 0;
      for (let p = info.parent; p !== ''; p = tx.getInfo(p).info.parent) depth++;
      out.push({ name: info.name, mountpoint: layout.upperPath(tx.getInfo(info.name).id), labels: { ...info.labels }, depth });
    }
    return out.sort((a, b) => a.depth - b.depth || a.name.localeCompare(b.name));
  });
  const result: RestoreCandidates = { served: [], toRestore: [], failed: [] };
  if (remote.length === 0) return result;
  const mounted = new Set((await mountsUnder(layout.snapshotsDir)).map((m) => m.mountpoint));
  await Promise.all(
    remote.map(async (s) => {
      if (!mounted.has(s.mountpoint)) {
        result.toRestore.push(s);
        return;
      }
      const probe = await probeStatfs(s.mountpoint);
      if (probe === 'answers') {
        result.served.push(s);
      } else if (probe === 'late') {
        result.failed.push({ ...s, reason: 'stale-mount', message: `its mount does not answer within ${STATFS_TIMEOUT_MS} ms; left as is (the FUSE process may be busy)` });
      } else if (!DEAD_FUSE.has(probe)) {
        result.failed.push({ ...s, reason: 'stale-mount', message: `its mount answers ${probe}; left as is` });
      } else {
        try {
          await detachMount(s.mountpoint);
          result.toRestore.push(s);
        } catch (err) {
          result.failed.push({ ...s, reason: 'stale-mount', message: `its mount answers ${probe} and could not be detached: ${describeError(err)}` });
        }
      }
    }),
  );
  const order = (a: RemoteSnapshot, b: RemoteSnapshot) => a.depth - b.depth || a.name.localeCompare(b.name);
  result.toRestore.sort(order);
  result.failed.sort(order);
  return result;
}

/** `answers`, `late`, or the errno it fails with (ENOTCONN for a dead FUSE process). */
async function probeStatfs(mountpoint: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('late'), STATFS_TIMEOUT_MS);
  });
  const answer = statfs(mountpoint).then(
    () => 'answers',
    (err: unknown) => errorCode(err) ?? describeError(err),
  );
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}
