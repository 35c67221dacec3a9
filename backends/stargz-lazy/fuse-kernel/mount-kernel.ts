/**
 * Mounting a layer with the kernel transport: snaphost opens /dev/fuse itself, mounts with
 * mount(2) and serves the connection (session.ts), with no libfuse and no fusermount.
 *
 * - Type `fuse.snaphost-stargz`, source `snaphost-stargz:<digest>`: what fs/fuse-mount.ts shows
 *   in /proc/self/mountinfo (the outside watch and the mount checks read it).
 * - MS_RDONLY only, not nosuid/nodev: a layer holds setuid programs and device nodes that must
 *   behave as after a normal pull. `allow_other,default_permissions`: containers run as any uid
 *   and the kernel checks modes. `max_read` = what the kernel allows per request (max-pages.ts),
 *   and the mount's read-ahead window raised to match (readahead.ts).
 * - Resolves once the kernel's INIT is answered.
 * - Unmount: umount2(MNT_DETACH) through the addon (this process owns the descriptor: no
 *   fusermount; a lazy detach never waits for this process, so it cannot deadlock on its own
 *   mount); open files keep being answered until they close, then the kernel ends the
 *   connection (ENODEV) and the session closes the descriptor. Bounded as fs/fuse-mount.ts
 *   (fs/bounded-unmount.ts: a detach that fails falls back to `umount -l`).
 *
 * `serveLayerConnection` serves an already-open, already-mounted connection (one handed over by
 * another process) without mounting.
 */
import { closeSync } from 'node:fs';
import { FailedPreconditionError, UnavailableError, type Logger } from '../../../core/sdk.js';
import type { FuseMount } from '../fs/fuse-mount.js';
import { FUSE_SUBTYPE, fsnameOf } from '../fs/layer-fsname.js';
import type { LayerReader } from '../fs/layer-fs.js';
import { ReadNodes } from '../fs/read-nodes.js';
import { FileReads, type ReadCounters } from './file-reads.js';
import { loadFuseDevice, MS_RDONLY, type FuseDevice } from './fuse-device.js';
import { kernelUnmounter } from './kernel-unmount.js';
import { PAGE_SIZE } from './init-negotiation.js';
import { LayerInodes } from './layer-inodes.js';
import { LayerRequests } from './layer-requests.js';
import { maxPagesLimit } from './max-pages.js';
import { raiseReadahead } from './readahead.js';
import { keepCacheOpen, type OpenFile } from './open-file.js';
import { PassthroughOpens, type PassthroughCounters } from './passthrough/passthrough-opens.js';
import { PASSTHROUGH_INIT_FLAGS, PASSTHROUGH_MAX_STACK_DEPTH } from './passthrough/passthrough-init.js';
import type { PassthroughState } from './passthrough/passthrough-state.js';
import { serveSession, type Session } from './session.js';

const INIT_TIMEOUT_MS = 30_000;

export interface MountLayerKernelOptions {
  log: Logger;
  /** A read that has not finished after this long answers EIO. */
  readTimeoutMs: number;
  /** Deadline of each unmount step; default 8 s. */
  detachTimeoutMs?: number;
  /** The addon (default: loadFuseDevice()). */
  device?: FuseDevice;
  /** OPEN of regular files (default: keepCacheOpen; the passthrough part gives its own). */
  openFile?: (index: LayerReader['index']) => OpenFile;
  /** INIT capabilities wanted beyond the defaults. */
  extraInitFlags?: bigint;
  /**
   * Kernel passthrough of complete files (passthrough/passthrough-opens.ts; `fs.passthrough`):
   * asked at INIT when the layer reader has `completeFile`; refused or not offered, reads go
   * through JS (said once per mount). Default false.
   */
  passthrough?: boolean;
  /** Backing ids held at once per connection (default 4096). */
  maxBackingIds?: number;
  /** A connection taken over: the passthrough state the previous process left (passthrough-state.ts). */
  passthroughState?: PassthroughState | undefined;
  /** Called when the inodes in passthrough change (the keeper is then sent `passthroughState()`). */
  onPassthroughChange?: (() => void) | undefined;
}

/** A layer mount of the kernel transport. */
export interface KernelMount extends FuseMount {
  /** Reads served (the mount table lists them). */
  readonly counters: ReadCounters;
  readonly session: Session;
  /** What passthrough did, when it was asked for. */
  readonly passthrough: PassthroughCounters | undefined;
  /** The state a process taking this connection over needs (passthrough-state.ts), when passthrough was asked for. */
  readonly passthroughState: (() => PassthroughState) | undefined;
  /** The /dev/fuse descriptor (the session owns it; the connection keeper takes a duplicate). */
  readonly fd: number;
}

/** The addon, or a FailedPreconditionError saying why the kernel transport cannot be used here. */
export function kernelDevice(device?: FuseDevice): FuseDevice {
  if (device) return device;
  try {
    return loadFuseDevice();
  } catch (err) {
    throw new FailedPreconditionError(`fs.transport "kernel" cannot serve layers here: ${(err as Error).message}`, { cause: err });
  }
}

/** Serves the open connection `fd` (mounted already) for `layer`; the session owns `fd` from now on. */
export function serveLayerConnection(
  fd: number,
  layer: LayerReader,
  digest: string,
  o: MountLayerKernelOptions & { maxPages: number },
): Pick<KernelMount, 'session' | 'counters' | 'passthrough' | 'passthroughState'> {
  const device = kernelDevice(o.device);
  const reads = new FileReads({ layer, digest, log: o.log, readTimeoutMs: o.readTimeoutMs });
  const tree = layer.index.tree;
  const plain = (o.openFile ?? ((i) => keepCacheOpen(i.tree)))(layer.index);
  const pass = layerPassthrough(fd, layer, { ...o, device, plain });
  const handler = new LayerRequests({ index: layer.index, inodes: new LayerInodes(tree), reads, openFile: pass?.open ?? plain, releaseFile: pass && ((fh) => pass.release(fh)) });
  const init = pass ? { extraFlags: (o.extraInitFlags ?? 0n) | PASSTHROUGH_INIT_FLAGS, maxStackDepth: PASSTHROUGH_MAX_STACK_DEPTH } : { extraFlags: o.extraInitFlags };
  const session = serveSession({ device, fd, handler, log: o.log, init: { maxPages: o.maxPages, ...init } });
  if (pass) {
    session.initialised.then((flags) => pass.negotiated(flags), () => undefined);
    void session.ended.then(() => pass.end());
  }
  if (o.passthroughState?.active && o.passthrough) layer.wantCompleteFiles?.();
  return { session, counters: reads.counters, passthrough: pass?.counters, passthroughState: pass && (() => pass.state()) };
}

/** The passthrough opens of a connection, when asked for and the reader knows complete files. */
function layerPassthrough(fd: number, layer: LayerReader, o: MountLayerKernelOptions & { device: FuseDevice; plain: OpenFile }): PassthroughOpens | undefined {
  const completeFile = layer.completeFile?.bind(layer);
  // A connection taken over with inodes in passthrough keeps them so whatever the option says now.
  const carried = (o.passthroughState?.inodes.length ?? 0) > 0;
  if ((!o.passthrough && !carried) || completeFile === undefined) return undefined;
  const resumed = o.passthroughState && { ...o.passthroughState, active: o.passthroughState.active && o.passthrough === true };
  const nodes = new ReadNodes(layer.index);
  return new PassthroughOpens({ device: o.device, fd, plain: o.plain, nodeOf: (ino) => nodes.get(ino), completeFile,
    log: o.log,
    maxBackingIds: o.maxBackingIds,
    onActive: layer.wantCompleteFiles?.bind(layer),
    resumed,
    onChange: o.onPassthroughChange,
  });
}

/** Mounts `layer` at `mountpoint` (an existing empty directory); resolves once the kernel sent INIT. */
export async function mountLayerKernel(mountpoint: string, layer: LayerReader, digest: string, o: MountLayerKernelOptions): Promise<KernelMount> {
  const device = kernelDevice(o.device);
  const maxPages = await maxPagesLimit();
  let fd: number;
  try {
    fd = device.open();
  } catch (err) {
    throw new FailedPreconditionError(`fs.transport "kernel": cannot open /dev/fuse: ${(err as Error).message}`, { cause: err });
  }
  const data = `fd=${fd},rootmode=40000,user_id=${process.getuid?.() ?? 0},group_id=${process.getgid?.() ?? 0},allow_other,default_permissions,max_read=${maxPages * PAGE_SIZE}`;
  const mountStarted = performance.now();
  try {
    // Synchronous (the addon's mount(2)); its time is logged: the JS thread serves nothing meanwhile.
    device.mount(mountpoint, fsnameOf(digest), `fuse.${FUSE_SUBTYPE}`, MS_RDONLY, data);
    o.log.debug({ mountpoint, mountSyscallMs: Math.round((performance.now() - mountStarted) * 10) / 10 }, 'mount(2) of the layer done');
  } catch (err) {
    closeSync(fd);
    throw new UnavailableError(`cannot mount layer ${digest} at ${mountpoint}: ${(err as Error).message}`, { cause: err });
  }
  const { session, counters, passthrough, passthroughState } = serveLayerConnection(fd, layer, digest, { ...o, device, maxPages });
  const unmount = kernelUnmounter(device, mountpoint, digest, o);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(`FUSE at ${mountpoint} did not initialise within ${INIT_TIMEOUT_MS} ms`)), INIT_TIMEOUT_MS);
  });
  try {
    await Promise.race([session.initialised, timeout]);
  } catch (err) {
    await unmount().catch(() => undefined);
    session.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  await raiseReadahead(mountpoint, `fuse.${FUSE_SUBTYPE}`, (maxPages * PAGE_SIZE) / 1024, o.log).catch((err: unknown) => o.log.warn({ err }, 'reading /proc/self/mountinfo failed; the read-ahead of the layer mount stays at the default'));
  return { mountpoint, unmount, counters, session, fd, passthrough, passthroughState };
}
