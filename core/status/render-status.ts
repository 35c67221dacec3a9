/** `snaphost status` as text for a terminal (the `--json` output is the report itself). */
import type { BackendReport, DaemonReport, LayerReport } from './status-report.js';

export function renderStatus(r: DaemonReport): string {
  const lines = [`snaphost pid ${r.pid}, up since ${r.startedAt}${r.config ? `, config ${r.config}` : ''}`];
  if (r.criProxy) {
    const p = r.criProxy;
    lines.push(`CRI image proxy ${p.listen} -> ${p.upstream}, credentials for ${p.repositoriesWithCredentials} repositor${p.repositoriesWithCredentials === 1 ? 'y' : 'ies'}`);
  }
  for (const b of r.backends) lines.push('', ...renderBackend(b));
  return `${lines.join('\n')}\n`;
}

function renderBackend(b: BackendReport): string[] {
  const lines = [`${b.name}  ${b.state}${b.optional ? ' (optional)' : ''}  use=${b.use}`];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(10)} ${value}`);
  if (b.error !== undefined) row('error', b.error);
  row('socket', b.socket);
  row('root', b.root);
  if (b.snapshots !== undefined) row('snapshots', `${b.snapshots}${b.snapshotsSource === 'list' ? ' (counted)' : ''}`);
  if (b.diskBytes !== undefined) row('disk', `${formatBytes(b.diskBytes)}${b.diskSource === 'measured' ? ' (measured under the root)' : ''}`);
  if (b.layers !== undefined) {
    const unavailable = b.layers.filter((l) => l.state === 'unavailable').length;
    row('layers', `${b.layers.length}${unavailable > 0 ? ` (${unavailable} unavailable)` : ''}`);
    for (const l of b.layers) lines.push(`    ${renderLayer(l)}`);
  }
  for (const p of b.problems ?? []) row('problem', p);
  return lines;
}

function renderLayer(l: LayerReport): string {
  const parts = [
    l.state.padEnd(11),
    `${fetchedPercent(l).padStart(6)} fetched (${formatBytes(l.fetchedBytes)} of ${formatBytes(l.totalBytes)})`,
    l.digest,
  ];
  if (l.reference) parts.push(l.reference);
  if (l.format) parts.push(`format=${l.format}`);
  if (l.prefetch) parts.push(`prefetch=${l.prefetch}`);
  if (l.background) parts.push(`background=${l.background}`);
  if (l.reason) parts.push(`reason: ${l.reason}`);
  return parts.join('  ');
}

/** `45.2%`; a layer without contents counts as fully fetched. */
export function fetchedPercent(l: Pick<LayerReport, 'fetchedBytes' | 'totalBytes'>): string {
  if (l.totalBytes <= 0) return '100.0%';
  return `${Math.min(100, (l.fetchedBytes / l.totalBytes) * 100).toFixed(1)}%`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}
