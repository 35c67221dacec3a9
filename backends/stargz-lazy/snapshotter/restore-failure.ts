/**
 * Why a remote snapshot could not be restored at start, as a stable reason (for logs and
 * tests to match on) and one line an operator can act on. The error classes are those of the
 * FUSE process's client (fused/fused-errors.ts) and of `remoteRequestFromLabels`.
 */
import { describeError, errorCode, isFusedUnreachable } from './error-code.js';

export type RestoreFailureReason =
  /** The labels containerd sent at prepare no longer name a blob (or never did). */
  | 'labels-missing'
  /** The labels name a blob badly (bad digest, reference, URL). */
  | 'labels-invalid'
  /** The labels have no TOC digest and `allowUnverifiedLayers` is false (it was true when the layer was mounted). */
  | 'unverified-layer'
  /** `snapshots/<id>/fs` is gone (removed outside snaphost) or not an empty directory. */
  | 'directory-unusable'
  /** A mount sits there that does not answer, and could not be detached. */
  | 'stale-mount'
  /** The registry could not be reached, or served bad data. */
  | 'registry-unreachable'
  /** The blob is an ordinary layer now (the tag or mirror serves other content). */
  | 'not-estargz'
  /** The blob is eStargz but malformed, oversized, or its TOC does not match the recorded digest. */
  | 'invalid-layer'
  /** The FUSE-serving process could not be started or reached. */
  | 'fused-unreachable'
  /** The layer was not mounted within `mountTimeoutMs` (a slow or hanging registry). */
  | 'timeout'
  /** snaphost stopped (or the backend closed) while the restore ran. */
  | 'cancelled'
  | 'internal';

export interface RestoreFailure {
  reason: RestoreFailureReason;
  /** One line: what happened, with the underlying message. */
  message: string;
}

/** Classify the error of one layer's mount; `timedOut`/`cancelled`: which signal ended it, if one did. */
export function restoreFailureOf(err: unknown, o: { timedOut: boolean; cancelled: boolean; timeoutMs: number }): RestoreFailure {
  const detail = describeError(err);
  if (o.cancelled) return { reason: 'cancelled', message: `cancelled: ${detail}` };
  if (o.timedOut) return { reason: 'timeout', message: `not mounted within ${o.timeoutMs} ms (the registry is slow or does not answer)` };
  if (isFusedUnreachable(err)) {
    return { reason: 'fused-unreachable', message: `the FUSE-serving process could not be reached: ${detail}` };
  }
  switch (errorCode(err)) {
    case 'NOT_ESTARGZ':
      return { reason: 'not-estargz', message: `the blob is not eStargz any more: ${detail}` };
    case 'UNAVAILABLE':
      return { reason: 'registry-unreachable', message: `the registry is unreachable or served bad data: ${detail}` };
    case 'INVALID_ARGUMENT':
      return { reason: 'invalid-layer', message: `the layer or its request is invalid: ${detail}` };
    case 'NOT_FOUND':
    case 'FAILED_PRECONDITION':
      return { reason: 'directory-unusable', message: `its mount point cannot be used: ${detail}` };
    default:
      return { reason: 'internal', message: detail };
  }
}
