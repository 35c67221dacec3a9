/**
 * snaphost's configuration in the DaemonSet (deploy/kubernetes/): kustomize's configMapGenerator
 * puts this file into the ConfigMap `snaphost-config`, mounted at /etc/snaphost in the pod
 * (`snaphost serve --config /etc/snaphost/plugins.config.ts`).
 *
 * Every path below is a host path mounted at the same path in the pod (daemonset.yaml): the
 * sockets and the roots are what the node's containerd dials and mounts, so the pod and the node
 * must name them alike. test/unit/deploy/kubernetes/manifests.test.ts checks that they agree.
 */
import { defineConfig } from 'snaphost';

export default defineConfig({
  logLevel: 'info',
  // Host paths (hostPath volumes, mountPropagation: Bidirectional): the proxy-plugin sockets
  // containerd dials, and every backend's state (mounts made in the pod reach the node).
  socketDir: '/run/snaphost',
  rootDir: '/var/lib/snaphost',
  socketMode: 0o660,
  createTimeoutMs: 30_000,
  // SIGTERM (a rolling update, `kubectl delete pod`): calls in flight may take this long; the
  // pod's terminationGracePeriodSeconds (30) leaves 10 s more for closing the backends.
  shutdownTimeoutMs: 20_000,
  // The pod runs on the node's network (hostNetwork): Prometheus scrapes <node IP>:9142, and the
  // liveness probe asks the same endpoint. No authentication: restrict it with a NetworkPolicy
  // or a firewall to the scraper, or set 127.0.0.1:9142 and drop the liveness probe.
  metrics: { address: '0.0.0.0:9142' },
  // kubelet --image-service-endpoint=unix:///run/snaphost/cri.sock: image pulls go through
  // snaphost (which keeps each image's pull credentials for its lazy reads) to containerd.
  criProxy: { listen: '/run/snaphost/cri.sock', upstream: '/run/containerd/containerd.sock' },
  backends: [
    // In RAM (a tmpfs under /var/lib/snaphost/memory): scratch images, CI; nothing survives a restart.
    { use: 'memory', name: 'memory', options: { size: '1g' } },
    // containerd's overlayfs, metadata in LMDB: survives restarts.
    { use: 'overlayfs-native', name: 'overlayfs-native', options: { asyncRemove: true } },
    {
      use: 'stargz-lazy',
      name: 'stargz-lazy',
      options: {
        // The FUSE-serving process runs in the node's mount namespace and outside the pod's
        // cgroups, so that restarting or upgrading this pod does not break running containers'
        // lazy layers; a new snaphost re-attaches to it.
        fusedOnHost: { enabled: true },
      },
    },
  ],
});
