/**
 * One FUSE-serving process per root: the PID lock `<root>/fused.lock` (core/runtime/pid-lock.ts: owner
 * PID + process start time, made by link() of a complete record, a dead owner's lock taken
 * over under a mutex). Two processes started at once (two snaphost starts racing) cannot both
 * win; the loser exits (`EXIT_ALREADY_RUNNING`, exit-status.ts) and its client finds the winner
 * on the socket.
 */
import { FailedPreconditionError } from '../../../core/sdk.js';
import { acquirePidLock, LockHeldError } from '../../../core/sdk-overlay.js';
import { fusedPaths } from './root-layout.js';

export interface InstanceLock {
  release(): Promise<void>;
}

export async function lockInstance(root: string): Promise<InstanceLock> {
  const file = fusedPaths(root).lock;
  try {
    return await acquirePidLock(file);
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    throw new FailedPreconditionError(`another FUSE-serving process (pid ${err.ownerPid}) already serves ${root} (lock ${file})`);
  }
}
