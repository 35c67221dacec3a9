/**
 * containerd itself: which version answers, and what that version means for snaphost's backends.
 * containerd 2.0's transfer service (plain `ctr image pull`, and what 2.1+ CRI pulls through)
 * ignores `exports.enable_remote_snapshot_annotations`, so it pulls a remote-snapshot backend's
 * images in full (the files are right, nothing is lazy); 2.1 and later pass the layer labels.
 */
import type { CheckBackend, ContainerdVersionInfo } from './check-context.js';
import type { ContainerdFinding } from './finding.js';

/** `1.6.20~ds1`, `v2.1.9`, `2.0.0-rc.1` → major and minor; undefined for a major other than 1 or 2 or an unreadable text. */
export function parseContainerdVersion(text: string): ContainerdVersionInfo | undefined {
  const m = /^v?([0-9]+)\.([0-9]+)/.exec(text.trim());
  if (!m) return undefined;
  const major = Number(m[1]);
  if (major !== 1 && major !== 2) return undefined;
  return { text, major, minor: Number(m[2]) };
}

export function versionFindings(version: ContainerdVersionInfo, backends: readonly CheckBackend[]): ContainerdFinding[] {
  const out: ContainerdFinding[] = [{ severity: 'ok', code: 'containerd-version', message: `containerd ${version.text} (${version.major}.x: \`snaphost containerd-config --containerd ${version.major}\`)` }];
  if (version.major === 2 && version.minor === 0) {
    for (const b of backends.filter((x) => x.remoteSnapshots)) {
      out.push({
        backend: b.name,
        severity: 'warning',
        code: 'transfer-service-full-pull',
        message: `containerd 2.0's transfer service (\`ctr image pull\`) ignores exports.enable_remote_snapshot_annotations: it pulls ${b.name}'s images in full (files correct, nothing lazy); containerd 2.1+ pulls lazily`,
      });
    }
  }
  return out;
}
