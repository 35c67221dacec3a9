/**
 * Hands a kernel-transport mount's connection to the connection keeper (fuse-kernel/keeper/)
 * before the mount is reported done, so that from then on it survives a crash of this process,
 * with the state a new process needs to serve it (the mount request, the INIT flags agreed, the
 * inodes in passthrough: passthrough-state.ts), sent again whenever the passthrough state changes
 * while `serves()` (the mount is still this process's).
 */
import type { Logger } from '../../../core/sdk.js';
import type { KeeperLink } from '../fuse-kernel/keeper/keeper-link.js';
import type { KernelMount } from '../fuse-kernel/mount-kernel.js';
import type { StateSync } from '../fuse-kernel/passthrough/state-sync.js';
import type { MountRequest } from '../protocol/control-protocol.js';

export async function keepConnection(keeper: KeeperLink, kernel: KernelMount, request: MountRequest, sync: StateSync, serves: () => boolean, log: Logger): Promise<void> {
  const initFlags = (await kernel.session.initialised).toString();
  const stateOf = () => ({ request, initFlags, passthrough: kernel.passthroughState?.() });
  const errno = await keeper.keep(request.mountpoint, kernel.fd, stateOf());
  if (errno !== 0) log.warn({ errno }, 'the connection keeper does not hold this layer connection: it will not survive a crash of this process');
  else sync.start(() => void keeper.keep(request.mountpoint, kernel.fd, stateOf()), serves);
}
