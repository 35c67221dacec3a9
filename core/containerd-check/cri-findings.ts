/**
 * The CRI part of `snaphost check-containerd` (check-containerd.ts): asks a RUNNING containerd's
 * CRI plugin (what kubelet drives) for its status and image file system, and turns what it
 * reports into findings per snaphost backend (cri-config-findings.ts says what is checked and why). Bounded: each call
 * has a deadline, the whole is cancelled by `signal`; a containerd that does not answer, or that
 * serves no CRI, is a finding, not a throw.
 */
import { stat } from 'node:fs/promises';
import { describe } from '../contract/errors.js';
import { criImageFsMountpoints, criStatus, type CriStatus } from '../grpc/cri-runtime.js';
import { GrpcCallError } from '../grpc/unary-call.js';
import { criConfigFindings, type CriBackend } from './cri-config-findings.js';
import type { ContainerdFinding } from './finding.js';

export interface CriFindingsContext {
  /** containerd's gRPC socket. */
  address: string;
  backends: readonly CriBackend[];
  major: 1 | 2;
  signal: AbortSignal;
  /** Deadline of each CRI call (ms); default 10000. */
  callTimeoutMs?: number;
}

const DEFAULT_CALL_TIMEOUT_MS = 10_000;

export async function criFindings(ctx: CriFindingsContext): Promise<ContainerdFinding[]> {
  if (typeof ctx.address !== 'string' || !ctx.address.startsWith('/')) {
    throw new TypeError(`criFindings: address must be an absolute socket path, not ${JSON.stringify(ctx.address)}`);
  }
  if (ctx.major !== 1 && ctx.major !== 2) throw new TypeError(`criFindings: major must be 1 or 2, not ${String(ctx.major)}`);
  const timeoutMs = ctx.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 300_000) throw new TypeError(`criFindings: callTimeoutMs must be an integer in 1..300000, not ${timeoutMs}`);
  const opts = { signal: ctx.signal, timeoutMs };

  let status: CriStatus;
  try {
    status = await criStatus(ctx.address, opts);
  } catch (err) {
    return [unanswered(err, ctx.address)];
  }
  let imageFs: { mountpoint: string; exists: boolean }[] | undefined;
  const out: ContainerdFinding[] = [];
  try {
    const mountpoints = await criImageFsMountpoints(ctx.address, opts);
    imageFs = await Promise.all(mountpoints.map(async (mountpoint) => ({ mountpoint, exists: mountpoint !== '' && (await isDirectory(mountpoint)) })));
  } catch (err) {
    out.push({ severity: 'warning', code: 'cri-image-fs-info-failed', message: `CRI's ImageFsInfo failed (${describe(err)}): kubelet cannot report its image file system` });
  }
  return [...out, ...criConfigFindings({ major: ctx.major, backends: ctx.backends, conditions: status.conditions, info: status.info, ...(imageFs ? { imageFs } : {}) })];
}

function unanswered(err: unknown, address: string): ContainerdFinding {
  if (err instanceof GrpcCallError && err.status === 'UNIMPLEMENTED') {
    return { severity: 'warning', code: 'cri-disabled', message: `containerd at ${address} serves no CRI (runtime.v1): kubelet cannot use it; remove the CRI plugins from disabled_plugins to run pods on snaphost's backends` };
  }
  return { severity: 'error', code: 'cri-unreachable', message: `containerd's CRI at ${address} did not answer: ${describe(err)}` };
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
