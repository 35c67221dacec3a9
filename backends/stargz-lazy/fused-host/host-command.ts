/**
 * How the daemon starts the FUSE-serving process on the node (`fusedOnHost`): from the runtime
 * copy (runtime-copy.ts), through `nsenter --mount=<mountNamespace>` (and the node's cgroup
 * namespace, `<dir of mountNamespace>/cgroup`, when it is not ours) so that it runs in the
 * node's mount namespace, with the environment that makes it move itself into `<cgroup>` under
 * every hierarchy's root (fused/enter-cgroup.ts) and report its generation.
 *
 * The backend's root is a host path mounted at the same path in the pod, so the copy's paths
 * are the same on both sides. When the mount namespace is already ours (snaphost runs on the
 * host, not in a pod) no nsenter is needed; when it is ours and we are PID 1, the pod lacks
 * hostPID and `/proc/1` is this container's init: an error says so.
 */
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError } from '../../../core/sdk.js';
import { CGROUP_ENV, GENERATION_ENV } from '../protocol/generation.js';
import type { InstalledRuntime } from './runtime-copy.js';

export interface FusedOnHost {
  enabled: boolean;
  mountNamespace: string;
  cgroup: string;
}

export interface HostCommand {
  command: string[];
  env: Record<string, string>;
}

export interface NamespaceProbe {
  /** `readlink` of a namespace file (`mnt:[4026531840]`). */
  nsOf(file: string): Promise<string>;
  pid: number;
  /** The nsenter executable, or undefined when none is installed. */
  nsenter: string | undefined;
}

export const realProbe = (nsenter: string | undefined): NamespaceProbe => ({ nsOf: (f) => readlink(f), pid: process.pid, nsenter });

export async function hostCommand(o: FusedOnHost, runtime: InstalledRuntime, probe: NamespaceProbe): Promise<HostCommand> {
  const env = { [GENERATION_ENV]: runtime.id, [CGROUP_ENV]: o.cgroup };
  const target = await probe.nsOf(o.mountNamespace).catch((err: NodeJS.ErrnoException) => {
    throw new FailedPreconditionError(`fusedOnHost: cannot read the node's mount namespace ${o.mountNamespace} (${err.code ?? err.message}); snaphost must run privileged, and in a pod the DaemonSet needs hostPID: true`);
  });
  const own = await probe.nsOf('/proc/self/ns/mnt');
  if (target === own) {
    if (probe.pid === 1) {
      throw new FailedPreconditionError(`fusedOnHost: ${o.mountNamespace} is this container's own namespace; the DaemonSet needs hostPID: true`);
    }
    return { command: runtime.command, env };
  }
  if (probe.nsenter === undefined) throw new FailedPreconditionError('fusedOnHost: nsenter is not installed (util-linux); it starts the FUSE-serving process in the node mount namespace');
  const args = [probe.nsenter, `--mount=${o.mountNamespace}`];
  if (path.basename(o.mountNamespace) === 'mnt') {
    const cgroupNs = path.join(path.dirname(o.mountNamespace), 'cgroup');
    const [theirs, ours] = await Promise.all([probe.nsOf(cgroupNs).catch(() => undefined), probe.nsOf('/proc/self/ns/cgroup').catch(() => undefined)]);
    if (theirs !== undefined && theirs !== ours) args.push(`--cgroup=${cgroupNs}`);
  }
  return { command: [...args, '--', ...runtime.command], env };
}
