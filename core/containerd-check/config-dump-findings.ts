/**
 * What only containerd's config says (read with `containerd config dump`, config-dump.ts says
 * how and why):
 * - containerd 2.x: may its transfer service unpack into each backend? It pulls for plain
 *   `ctr image pull` (and CRI's PullImage from 2.1 on) and unpacks only into the snapshotters
 *   listed in `[[plugins."io.containerd.transfer.v1.local".unpack_config]]`; without an entry a
 *   pull into the backend fails ("no unpack platforms defined"). containerd 1.x has no such
 *   list (its clients unpack).
 * - Does `[proxy_plugins.NAME] address` name the socket snaphost serves the backend on? The
 *   plugin list does not say (containerd dials lazily, so a wrong address is "ok" there).
 * containerd 1.x reports no PID, so there the dump is read only with `--containerd-config FILE`.
 */
import type { CheckBackend, ContainerdCheckContext } from './check-context.js';
import { containerdConfigDump } from './config-dump.js';
import { dumpTables, proxyPlugins, UNPACK_CONFIG_TABLE, unpackEntries, type UnpackEntry } from './dump-tables.js';
import type { ContainerdFinding } from './finding.js';

export async function configDumpFindings(ctx: ContainerdCheckContext): Promise<ContainerdFinding[]> {
  if (ctx.version.major === 1 && ctx.containerdConfig === undefined) return [];
  const dump = await containerdConfigDump(ctx);
  if ('error' in dump) {
    const what = ctx.version.major === 2 ? "containerd 2.x's unpack_config and the proxy plugins' addresses were" : "the proxy plugins' addresses were";
    return [{ severity: 'warning', code: 'config-dump-failed', message: `${what} not checked: ${dump.error}${ctx.containerdConfig === undefined ? '; pass --containerd-config FILE (the config containerd runs with)' : ''}` }];
  }
  const source = `${dump.config}, read with \`${dump.binary} config dump\``;
  const tables = dumpTables(dump.text);
  const out = proxyAddressFindings(ctx.backends, proxyPlugins(tables), source);
  if (ctx.version.major === 2) out.push(...unpackConfigFindings(ctx.backends, unpackEntries(tables), source));
  return out;
}

/** Per backend with a `[proxy_plugins.NAME]` in the dump: its address is the backend's socket, else `proxy-plugin-address-differs`. */
export function proxyAddressFindings(backends: readonly CheckBackend[], proxies: ReadonlyMap<string, { type: string; address: string }>, source: string): ContainerdFinding[] {
  const out: ContainerdFinding[] = [];
  for (const b of backends) {
    const p = proxies.get(b.name);
    if (!p) continue; // absent from the file: the plugin list (proxy-plugin-missing) speaks for the running containerd
    if (p.address !== b.socket) {
      out.push({ backend: b.name, severity: 'error', code: 'proxy-plugin-address-differs', message: `[proxy_plugins."${b.name}"] address = "${p.address}", but snaphost serves it at ${b.socket} (${source}): set the address and restart containerd` });
    } else if (p.type !== 'snapshot') {
      out.push({ backend: b.name, severity: 'error', code: 'proxy-plugin-type', message: `[proxy_plugins."${b.name}"] type = "${p.type}", not "snapshot" (${source})` });
    } else {
      out.push({ backend: b.name, severity: 'ok', code: 'proxy-plugin-address', message: `[proxy_plugins."${b.name}"] address is its socket (${source})` });
    }
  }
  return out;
}

/** Per backend: an unpack entry names it, or `no-unpack-config`. `source` says where the entries were read. */
export function unpackConfigFindings(backends: readonly CheckBackend[], entries: readonly UnpackEntry[], source: string): ContainerdFinding[] {
  return backends.map((b): ContainerdFinding => {
    const mine = entries.filter((e) => e.snapshotter === b.name);
    if (mine.length > 0) {
      return { backend: b.name, severity: 'ok', code: 'unpack-config', message: `the transfer service unpacks into it (unpack_config: ${mine.map((e) => `platform ${e.platform || '(any)'}, differ ${e.differ || '(default)'}`).join('; ')}; ${source})` };
    }
    const listed = entries.length === 0 ? 'there are none: containerd uses its default, overlayfs only' : `there are entries for ${[...new Set(entries.map((e) => e.snapshotter))].join(', ')}`;
    return {
      backend: b.name,
      severity: 'error',
      code: 'no-unpack-config',
      message:
        `no ${UNPACK_CONFIG_TABLE} entry with snapshotter = "${b.name}" (${listed}; ${source}): ` +
        `\`ctr image pull --snapshotter ${b.name}\` and CRI pulls through the transfer service fail ("no unpack platforms defined"); add the entries \`snaphost containerd-config --containerd 2 --fragment\` prints (they keep overlayfs) and restart containerd`,
    };
  });
}
