/**
 * The FUSE transport a layer is served with (`fs.transport`, options.ts), chosen per mount:
 * `fuse-native` (libfuse 2: LayerFs mounted by fuse-mount.ts) or `kernel` (snaphost's own
 * server on /dev/fuse: fuse-kernel/mount-kernel.ts). Both show the same file system with the
 * same mount source and type, and count reads the same way. `kernel` where its addon is not
 * built or /dev/fuse is missing fails the mount with FailedPreconditionError saying why; it never
 * falls back silently.
 */
import type { Logger } from '../../../core/sdk.js';
import type { ReadCounters } from '../fuse-kernel/file-reads.js';
import { mountLayerKernel } from '../fuse-kernel/mount-kernel.js';
import type { FsTransport } from '../options.js';
import { mountLayerFs, type FuseMount } from './fuse-mount.js';
import { LayerFs, type LayerReader } from './layer-fs.js';

export interface MountedLayer {
  fuse: FuseMount;
  /** Reads served through this mount (the mount table lists them). */
  counters: ReadCounters;
}

export interface MountLayerOptions {
  transport: FsTransport;
  log: Logger;
  /** A read that has not finished after this long answers EIO. */
  readTimeoutMs: number;
  /** `kernel` only: kernel passthrough of complete files (fuse-kernel/passthrough/). */
  passthrough?: boolean | undefined;
  /** `kernel` only: the inodes in passthrough changed (the keeper is sent the new state). */
  onPassthroughChange?: (() => void) | undefined;
}

/** fuse-native's own deadline per operation: a backstop behind the read deadline. */
const OP_TIMEOUT_SLACK_MS = 10_000;

/** Mounts `layer` at `mountpoint` with the transport asked for; resolves once the kernel sent INIT. */
export async function mountLayer(mountpoint: string, layer: LayerReader, digest: string, o: MountLayerOptions): Promise<MountedLayer> {
  if (o.transport === 'kernel') {
    const fuse = await mountLayerKernel(mountpoint, layer, digest, { log: o.log, readTimeoutMs: o.readTimeoutMs, passthrough: o.passthrough ?? false, onPassthroughChange: o.onPassthroughChange });
    return { fuse, counters: fuse.counters };
  }
  const fs = new LayerFs({ layer, digest, log: o.log, readTimeoutMs: o.readTimeoutMs });
  const fuse = await mountLayerFs(mountpoint, fs, digest, { opTimeoutMs: o.readTimeoutMs + OP_TIMEOUT_SLACK_MS, log: o.log });
  return { fuse, counters: fs.counters };
}
