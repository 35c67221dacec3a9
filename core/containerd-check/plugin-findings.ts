/**
 * Does the running containerd have each backend as a snapshotter? Read from containerd's
 * introspection service (`Plugins`, what `ctr plugins ls` prints): a proxy plugin of a snaphost
 * backend is an `io.containerd.snapshotter.v1` plugin whose id is the backend's name.
 * - absent: containerd's config has no `[proxy_plugins.NAME]` (or containerd was not restarted);
 * - an init error: containerd refused it (its error text is quoted, bounded);
 * - on containerd 2.x a proxy plugin with `exports.root` that differs from the backend's root:
 *   CRI's ImageFsInfo would name the wrong directory (a warning).
 * containerd dials a proxy plugin lazily, so "ok" here does not mean the socket answers: the
 * socket is probed separately (socket-findings.ts).
 */
import path from 'node:path';
import { containerdPlugins, type ContainerdPlugin } from '../grpc/containerd-introspection.js';
import { SNAPSHOTTER_PLUGIN_TYPE } from '../image-fs/link-image-fs.js';
import { describe } from '../contract/errors.js';
import type { CheckBackend, ContainerdCheckContext } from './check-context.js';
import type { ContainerdFinding } from './finding.js';

/** containerd's init error text is quoted up to this many characters. */
export const INIT_ERROR_MAX_CHARS = 300;

export async function pluginFindings(ctx: ContainerdCheckContext): Promise<ContainerdFinding[]> {
  let plugins: ContainerdPlugin[];
  try {
    plugins = await containerdPlugins(ctx.address, [`type==${SNAPSHOTTER_PLUGIN_TYPE}`], { signal: ctx.signal, timeoutMs: ctx.callTimeoutMs });
  } catch (err) {
    return [{ severity: 'error', code: 'introspection-failed', message: `containerd's introspection service at ${ctx.address} did not list its plugins: ${describe(err)}` }];
  }
  return snapshotterPluginFindings(ctx.backends, plugins, ctx.version.major);
}

/** The findings for `backends` given containerd's plugin list (any types; only snapshotters are looked at). */
export function snapshotterPluginFindings(backends: readonly CheckBackend[], plugins: readonly ContainerdPlugin[], major: 1 | 2): ContainerdFinding[] {
  const out: ContainerdFinding[] = [];
  const flag = major === 2 ? ' --containerd 2' : '';
  for (const b of backends) {
    const p = plugins.find((x) => x.type === SNAPSHOTTER_PLUGIN_TYPE && x.id === b.name);
    if (!p) {
      out.push({
        backend: b.name,
        severity: 'error',
        code: 'proxy-plugin-missing',
        message: `containerd has no snapshotter "${b.name}": add [proxy_plugins."${b.name}"] (type = "snapshot", address = "${b.socket}") to its config, as \`snaphost containerd-config${flag}\` prints it, and restart containerd`,
      });
      continue;
    }
    if (p.initError) {
      out.push({
        backend: b.name,
        severity: 'error',
        code: 'proxy-plugin-not-ok',
        message: `containerd's snapshotter "${b.name}" failed to initialize: ${bounded(p.initError.message || `gRPC code ${p.initError.code}`)}; check [proxy_plugins."${b.name}"] and restart containerd`,
      });
      continue;
    }
    out.push({ backend: b.name, severity: 'ok', code: 'proxy-plugin-ok', message: `containerd has the proxy snapshotter "${b.name}" (${SNAPSHOTTER_PLUGIN_TYPE}, status ok)` });
    const root = p.exports['root'];
    if (major === 2 && root !== undefined && root !== '' && path.resolve(root) !== path.resolve(b.root)) {
      out.push({
        backend: b.name,
        severity: 'warning',
        code: 'proxy-plugin-root-differs',
        message: `[proxy_plugins."${b.name}".exports] root = "${root}", but the backend's root is ${b.root}: CRI's ImageFsInfo (kubelet's image file system stats) names the wrong directory`,
      });
    }
  }
  return out;
}

function bounded(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= INIT_ERROR_MAX_CHARS ? one : `${one.slice(0, INIT_ERROR_MAX_CHARS - 1)}…`;
}
