// The deploy config as lib/daemonset.sh mounts it in the test's pod: every host path of the
// DaemonSet gets the test's prefix (the same rule as the volumes), the metrics endpoint moves to
// a free loopback port, and stargz-lazy's fusedOnHost enters the test's "node" namespaces and a
// cgroup of the test's own. Text edits of the TypeScript file, each failing loudly when what it
// edits is not there (so the config and the test cannot drift apart silently).
//   node daemonset-config.mjs SRC DST PREFIX HOSTPATHS(comma-separated) METRICS_ADDRESS MOUNT_NS CGROUP
import { readFileSync, writeFileSync } from 'node:fs';

const [src, dst, prefix, hostPaths, metricsAddress, mountNs, cgroup] = process.argv.slice(2);
if (!cgroup) fail('usage: daemonset-config.mjs SRC DST PREFIX HOSTPATHS METRICS_ADDRESS MOUNT_NS CGROUP');
function fail(msg) {
  process.stderr.write(`daemonset-config: ${msg}\n`);
  process.exit(1);
}
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let text = readFileSync(src, 'utf8');
// Longest first, so that /run/containerd/x is not taken for /run/x.
for (const p of hostPaths.split(',').filter(Boolean).sort((a, b) => b.length - a.length)) {
  text = text.replace(new RegExp(`(['"\`])${escape(p)}(?=[/'"\`])`, 'g'), `$1${prefix}${p}`);
}
const metrics = /(metrics:\s*\{\s*address:\s*)(['"])[^'"]*\2/;
if (metricsAddress !== '-') {
  if (!metrics.test(text)) fail('no metrics: { address: ... } in the config');
  text = text.replace(metrics, `$1'${metricsAddress}'`);
}
const fused = /fusedOnHost:\s*\{/;
if (!fused.test(text)) fail('no fusedOnHost: { ... } in the config');
text = text.replace(fused, `fusedOnHost: { mountNamespace: '${mountNs}', cgroup: '${cgroup}',`);
writeFileSync(dst, text);
