/**
 * The systemd unit that runs snaphost on a node. contrib/systemd/snaphost.service is this
 * function's output for a package install (`/usr/bin/snaphost`, `/etc/snaphost`); a unit test
 * keeps the two identical. `snaphost install-unit` writes it with the paths of the running
 * install.
 *
 * Why each directive is there is written into the unit itself, for the operator who reads it.
 */
import { InvalidArgumentError } from '../contract/errors.js';

export interface UnitFileOptions {
  /** The snaphost command as argv: `['/usr/bin/snaphost']` or `[node, '/opt/snaphost/dist/core/cli/snaphost.js']`. */
  command: readonly string[];
  /** Absolute path of the config file. */
  config: string;
  /** How long `wait-ready` waits for every socket (seconds). */
  readyTimeoutS?: number;
  /**
   * bin/ of snaphost's own Node.js runtime (scripts/lib/node-runtime.sh), put first on the
   * unit's PATH: a `snaphost` executable that starts with `#!/usr/bin/env node` then runs on it,
   * never on a system Node.js (Debian 12's /usr/bin/node is 18). Absolute.
   */
  nodeBin?: string;
}

export const DEFAULT_READY_TIMEOUT_S = 90;
/** Where scripts/lib/node-runtime.sh installs the runtime (SNAPHOST_NODE_ROOT=/opt/snaphost). */
export const DEFAULT_NODE_BIN = '/opt/snaphost/node/bin';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function unitFile(o: UnitFileOptions): string {
  if (o.command.length === 0) throw new InvalidArgumentError('the snaphost command is empty');
  const nodeBin = o.nodeBin ?? DEFAULT_NODE_BIN;
  if (/[:\s"'\\%$]/.test(nodeBin)) throw new InvalidArgumentError(`${JSON.stringify(nodeBin)} cannot be a PATH entry of the unit`);
  for (const p of [o.command[0]!, o.config, nodeBin]) {
    if (!p.startsWith('/')) throw new InvalidArgumentError(`${JSON.stringify(p)} is not an absolute path (systemd needs one)`);
  }
  const ready = o.readyTimeoutS ?? DEFAULT_READY_TIMEOUT_S;
  if (!Number.isInteger(ready) || ready < 1) throw new InvalidArgumentError(`the readiness timeout must be a whole number of seconds >= 1, got ${ready}`);
  const exec = (...args: string[]) => [...o.command, ...args].map(systemdArg).join(' ');
  return `# snaphost: one daemon that hosts many containerd snapshotters, each on its own
# proxy-plugin socket. Written by \`snaphost install-unit\`; see docs/operating.md.
[Unit]
Description=snaphost containerd snapshotters
# Ready before containerd starts (containerd dials proxy sockets lazily and backs off for
# seconds when one is missing); stopped after containerd at shutdown.
Before=containerd.service
After=local-fs.target network-online.target
# Lazy backends re-open remote layers from their registries.
Wants=network-online.target

[Service]
# "Started" means every socket accepts: the unit is active (and containerd may start) only
# once \`wait-ready\` has connected to every backend's socket.
Type=exec
# snaphost's own Node.js first: a supported LTS, whatever Node.js the system has.
Environment=PATH=${nodeBin}:${SYSTEM_PATH}
ExecStart=${exec('serve', '--config', o.config)}
ExecStartPost=${exec('wait-ready', '--config', o.config, '--timeout', String(ready))}
# \`systemctl reload snaphost\`: re-read the config; added backends start, removed ones drain
# and stop, changed ones restart, the others (and their calls in flight) are not touched. An
# invalid config is rejected whole, and the reload fails with its problems in the journal.
ExecReload=${exec('reload', '--config', o.config)}
TimeoutStartSec=${ready + 30}
# SIGTERM lets calls in flight finish (shutdownTimeoutMs in the config), then closes every
# backend and removes the sockets.
TimeoutStopSec=60
Restart=on-failure
RestartSec=2
# Only the daemon is signalled on stop and restart. stargz-lazy's FUSE-serving process lives
# in this unit's cgroup but serves the layers of running containers; the default
# (control-group) or mixed would kill it and break every lazily pulled container. A restarted
# snaphost reconnects to it. \`systemctl kill snaphost\` still stops everything.
KillMode=process
# Snapshots of running containers depend on this daemon and the FUSE process, as on containerd.
OOMScoreAdjust=-999
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
`;
}

/**
 * One command-line word as systemd parses it: `%` (specifiers) and `$` (variables) doubled;
 * quoted when it holds spaces, quotes or backslashes. Control characters cannot be written.
 */
export function systemdArg(word: string): string {
  if (word === '' || /[\x00-\x1f\x7f]/.test(word)) throw new InvalidArgumentError(`${JSON.stringify(word)} cannot be written into a systemd unit`);
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%$+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
