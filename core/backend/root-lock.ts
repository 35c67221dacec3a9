/**
 * An exclusive claim on a backend's root directory, held for as long as the instance runs, so
 * that a second snaphost started on the same config (or two entries of different configs that
 * share a root) fails BEFORE its backend's `create` can touch the first one's state — a
 * `memory` backend, for example, replaces a tmpfs it finds mounted. The claim is the PID lock
 * `<root>/.snaphost.lock` (see core/runtime/pid-lock.ts).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BackendContractError } from '../contract/errors.js';
import { acquirePidLock, LockHeldError, type PidLock } from '../runtime/pid-lock.js';

export const LOCK_FILE = '.snaphost.lock';

export type RootLock = PidLock;

export async function lockRoot(backend: string, root: string): Promise<RootLock> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const file = path.join(root, LOCK_FILE);
  try {
    return await acquirePidLock(file);
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    const who = err.ownerPid === process.pid ? 'another backend of this process' : `process ${err.ownerPid}`;
    throw new BackendContractError(backend, `root ${root} is in use by ${who} (lock ${file}); two instances must not share a root`);
  }
}
