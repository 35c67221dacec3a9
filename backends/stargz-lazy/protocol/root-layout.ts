/** Files of the FUSE-serving process in its root directory (mode 0700). */
import { join } from 'node:path';

export interface FusedPaths {
  /** Validated configuration, written by the backend before it starts the process. */
  config: string;
  /** Control socket (mode 0600). */
  socket: string;
  /** stderr of the process: JSON log lines. */
  log: string;
  /** Verified chunk data, kept across restarts. */
  cache: string;
}

export function fusedPaths(root: string): FusedPaths {
  return {
    config: join(root, 'fused.json'),
    socket: join(root, 'fused.sock'),
    log: join(root, 'fused.log'),
    cache: join(root, 'cache'),
  };
}
