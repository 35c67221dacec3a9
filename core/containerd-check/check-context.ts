/**
 * What every source of findings about a running containerd is given (`snaphost
 * check-containerd`, check-containerd.ts): where containerd listens, its version (asked once),
 * snaphost's backends as the config resolves them, and the bounds (a deadline per call, one
 * signal for the whole check). A source is `(ctx) => Promise<ContainerdFinding[]>` and never
 * throws for what it finds: an unreachable service or a missing file is a finding.
 */
import type { ContainerdFinding } from './finding.js';

export interface CheckBackend {
  /** The backend's name = containerd's snapshotter (proxy plugin) name. */
  name: string;
  /** The socket snaphost serves it on (what the proxy plugin's `address` must be). */
  socket: string;
  /** Its root (on containerd 2.x the proxy plugin's `exports.root`). */
  root: string;
  /** The definition declares `capabilities.remoteSnapshots` (lazily fetched layers). */
  remoteSnapshots: boolean;
}

export interface ContainerdVersionInfo {
  /** As containerd reports it (`1.6.20~ds1`, `v2.1.9`). */
  text: string;
  major: 1 | 2;
  minor: number;
}

export interface ContainerdCheckContext {
  /** containerd's gRPC socket (absolute). */
  address: string;
  version: ContainerdVersionInfo;
  backends: readonly CheckBackend[];
  signal: AbortSignal;
  /** Deadline of each gRPC call or subprocess (ms). */
  callTimeoutMs: number;
  /** containerd's config file as given (`--containerd-config`); else found from the running process. */
  containerdConfig?: string;
}

export type FindingSource = (ctx: ContainerdCheckContext) => Promise<ContainerdFinding[]>;
