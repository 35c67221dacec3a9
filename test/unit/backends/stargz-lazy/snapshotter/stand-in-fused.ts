/**
 * A stand-in for the FUSE-serving process, for the snapshotter's tests: its "layer" is a tmpfs
 * mounted where the layer goes, every layer it is asked about is available, it has no metrics.
 * What is tested is the snapshotter, not the process (the fused tests run the real one). Root only.
 */
import { execFileSync } from 'node:child_process';
import type { FusedLayerCheck, FusedLink, FusedMounter } from '../../../../../backends/stargz-lazy/fused-client/fused-link.js';
import { NotFoundError } from '../../../../../core/sdk.js';

/** Mount a tmpfs (the stand-in's layer) on `mountpoint`. */
export function mountTmpfs(mountpoint: string): void {
  execFileSync('mount', ['-t', 'tmpfs', 'stand-in-layer', mountpoint]);
}

/** The answer of a check of `mountpoints`: all available. */
export function allAvailable(mountpoints: readonly string[]): FusedLayerCheck[] {
  return mountpoints.map((mountpoint) => ({ mountpoint, served: true, available: true, fetchedBytes: 0, totalBytes: 1 }));
}

/** The stand-in's client; `replace` swaps some of its requests. */
export function tmpfsMounter(replace: Partial<FusedMounter> = {}): FusedMounter {
  return {
    mount: async (r) => mountTmpfs(r.mountpoint),
    unmount: async (mountpoint) => void execFileSync('umount', ['-l', mountpoint]),
    list: async () => [],
    check: async (mountpoints) => allAvailable(mountpoints),
    metrics: async (): Promise<never> => {
      throw new NotFoundError('the stand-in has no metrics');
    },
    ...replace,
  };
}

/** A link to a process that is running, through one client. */
export class RunningLink implements FusedLink {
  constructor(readonly client: FusedMounter) {}
  async get(): Promise<FusedMounter> {
    return this.client;
  }
  async running(): Promise<FusedMounter | undefined> {
    return this.client;
  }
  reset(): void {}
  async close(): Promise<void> {}
}
