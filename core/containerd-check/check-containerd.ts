/**
 * `snaphost check-containerd`: ask a RUNNING containerd what it makes of snaphost's backends, and
 * say per backend what is missing. containerd's version is asked first (an unreachable
 * containerd is one error finding and nothing else); then every source runs, in parallel, on
 * the same context:
 * - plugin-findings.ts: the proxy snapshotter in containerd's plugin list (introspection);
 * - socket-findings.ts: snaphost serves the socket containerd dials;
 * - config-dump-findings.ts: containerd 2.x's transfer service may unpack into it (unpack_config),
 *   and the proxy plugin's address is the backend's socket (containerd config dump);
 * - cri-findings.ts: what the CRI plugin (kubelet) does with it;
 * - version-findings.ts: what this containerd version means for the backends.
 * Bounded: one signal for the whole check, a deadline per call or subprocess.
 */
import { describe } from '../contract/errors.js';
import { tryConnect } from '../systemd/wait-ready.js';
import { containerdVersion, type ContainerdVersion } from '../grpc/containerd-introspection.js';
import type { CheckBackend, ContainerdCheckContext, FindingSource } from './check-context.js';
import { criFindings } from './cri-findings.js';
import type { ContainerdFinding } from './finding.js';
import { pluginFindings } from './plugin-findings.js';
import { socketFindings } from './socket-findings.js';
import { configDumpFindings } from './config-dump-findings.js';
import { parseContainerdVersion, versionFindings } from './version-findings.js';

export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';
/** The whole check's bound (and each call's deadline) unless `--timeout-ms` says otherwise. */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

export interface CheckContainerdOptions {
  address: string;
  backends: readonly CheckBackend[];
  signal: AbortSignal;
  callTimeoutMs: number;
  containerdConfig?: string;
}

const criSource: FindingSource = (ctx) =>
  criFindings({
    address: ctx.address,
    backends: ctx.backends.map((b) => ({ name: b.name, remoteSnapshots: b.remoteSnapshots, root: b.root })),
    major: ctx.version.major,
    signal: ctx.signal,
    callTimeoutMs: ctx.callTimeoutMs,
  });

const SOURCES: readonly FindingSource[] = [pluginFindings, socketFindings, configDumpFindings, criSource];

export async function checkContainerd(o: CheckContainerdOptions): Promise<ContainerdFinding[]> {
  if (!o.address.startsWith('/')) throw new TypeError(`checkContainerd: address must be an absolute socket path, not ${JSON.stringify(o.address)}`);
  let reported: ContainerdVersion;
  try {
    reported = await containerdVersion(o.address, { signal: o.signal, timeoutMs: o.callTimeoutMs });
  } catch (err) {
    return [{ severity: 'error', code: 'containerd-unreachable', message: `no containerd answers at ${o.address} (${await whyUnreachable(o, err)}): is containerd running, and is this its [grpc] address? (--address)` }];
  }
  const version = parseContainerdVersion(reported.version);
  if (!version) {
    return [{ severity: 'error', code: 'containerd-version-unsupported', message: `containerd at ${o.address} reports version "${reported.version}": snaphost checks containerd 1.x and 2.x` }];
  }
  const ctx: ContainerdCheckContext = {
    address: o.address,
    version,
    backends: o.backends,
    signal: o.signal,
    callTimeoutMs: o.callTimeoutMs,
    ...(o.containerdConfig !== undefined ? { containerdConfig: o.containerdConfig } : {}),
  };
  const found = await Promise.all(SOURCES.map((source) => source(ctx)));
  return [...versionFindings(version, o.backends), ...found.flat()];
}

/** Why the version call failed, said plainly when the socket itself is the reason (ENOENT, ECONNREFUSED, EACCES). */
async function whyUnreachable(o: CheckContainerdOptions, err: unknown): Promise<string> {
  const connect = o.signal.aborted ? undefined : await tryConnect(o.address, Math.min(o.callTimeoutMs, 2000));
  if (connect === 'ENOENT') return 'the socket does not exist';
  if (connect === 'ECONNREFUSED') return 'nothing listens on the socket';
  if (connect === 'EACCES') return 'permission denied (run as root)';
  if (connect === 'ENOTSOCK') return 'not a socket';
  return describe(err);
}
