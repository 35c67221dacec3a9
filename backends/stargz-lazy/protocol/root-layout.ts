/** Files of the FUSE-serving process in its root directory (mode 0700). */
import { join } from 'node:path';

export interface FusedPaths {
  /** Validated configuration, written by the backend before it starts the process. */
  config: string;
  /** Control socket (mode 0600). */
  socket: string;
  /** stderr of the process: JSON log lines. */
  log: string;
  /** The PID lock of the process serving the root (instance-lock.ts). */
  lock: string;
  /** Verified chunk data, kept across restarts. */
  cache: string;
}

export function fusedPaths(root: string): FusedPaths {
  return {
    config: join(root, 'fused.json'),
    socket: join(root, 'fused.sock'),
    log: join(root, 'fused.log'),
    lock: join(root, 'fused.lock'),
    cache: join(root, 'cache'),
  };
}
