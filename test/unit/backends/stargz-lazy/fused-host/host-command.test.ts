/**
 * `hostCommand`: nsenter into the node's mount namespace (and its cgroup namespace when it is
 * not ours) in front of the runtime copy's command, the generation and cgroup in the
 * environment; no nsenter when the namespace is ours; clear errors without hostPID, without
 * access to the namespace, and without nsenter.
 */
import { describe, expect, it } from 'vitest';
import { hostCommand, type NamespaceProbe } from '../../../../../backends/stargz-lazy/fused-host/host-command.js';

const runtime = { id: '0123456789abcdef', dir: '/r/runtime/0123456789abcdef', command: ['/r/runtime/0123456789abcdef/node', '--expose-gc', 'main.js'] };
const host = { enabled: true, mountNamespace: '/proc/1/ns/mnt', cgroup: 'snaphost-fused' };

function probe(ns: Record<string, string>, o: Partial<NamespaceProbe> = {}): NamespaceProbe {
  return {
    nsOf: async (f) => {
      const v = ns[f];
      if (v === undefined) throw Object.assign(new Error('denied'), { code: 'EACCES' });
      return v;
    },
    pid: 4321,
    nsenter: '/usr/bin/nsenter',
    ...o,
  };
}

describe('hostCommand', () => {
  it("enters the node's mount and cgroup namespaces", async () => {
    const c = await hostCommand(host, runtime, probe({ '/proc/1/ns/mnt': 'mnt:[1]', '/proc/self/ns/mnt': 'mnt:[2]', '/proc/1/ns/cgroup': 'cgroup:[1]', '/proc/self/ns/cgroup': 'cgroup:[2]' }));
    expect(c.command).toEqual(['/usr/bin/nsenter', '--mount=/proc/1/ns/mnt', '--cgroup=/proc/1/ns/cgroup', '--', ...runtime.command]);
    expect(c.env).toEqual({ SNAPHOST_FUSED_GENERATION: runtime.id, SNAPHOST_FUSED_CGROUP: 'snaphost-fused' });
  });

  it('keeps its cgroup namespace when it is the node one already', async () => {
    const c = await hostCommand(host, runtime, probe({ '/proc/1/ns/mnt': 'mnt:[1]', '/proc/self/ns/mnt': 'mnt:[2]', '/proc/1/ns/cgroup': 'cgroup:[1]', '/proc/self/ns/cgroup': 'cgroup:[1]' }));
    expect(c.command.slice(0, 3)).toEqual(['/usr/bin/nsenter', '--mount=/proc/1/ns/mnt', '--']);
  });

  it('runs the copy directly in the same namespace (snaphost on the host)', async () => {
    const c = await hostCommand(host, runtime, probe({ '/proc/1/ns/mnt': 'mnt:[1]', '/proc/self/ns/mnt': 'mnt:[1]' }));
    expect(c.command).toEqual(runtime.command);
  });

  it('says the DaemonSet needs hostPID when /proc/1 is its own init', async () => {
    await expect(hostCommand(host, runtime, probe({ '/proc/1/ns/mnt': 'mnt:[1]', '/proc/self/ns/mnt': 'mnt:[1]' }, { pid: 1 }))).rejects.toThrow(
      "/proc/1/ns/mnt is this container's own namespace; the DaemonSet needs hostPID: true",
    );
    await expect(hostCommand(host, runtime, probe({ '/proc/self/ns/mnt': 'mnt:[1]' }))).rejects.toThrow(/cannot read the node's mount namespace \/proc\/1\/ns\/mnt \(EACCES\)/);
    await expect(hostCommand(host, runtime, probe({ '/proc/1/ns/mnt': 'mnt:[1]', '/proc/self/ns/mnt': 'mnt:[2]' }, { nsenter: undefined }))).rejects.toThrow(/nsenter is not installed/);
  });
});
