/** Content digests as registries and containerd write them. */
import { InvalidArgumentError } from '../../../core/sdk.js';

/** The only algorithm snaphost accepts for layers: lowercase sha256 hex, 64 digits. */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Checks a layer digest; `what` names where it came from (a label key) for the message. */
export function parseDigest(value: string, what: string): string {
  if (!SHA256_DIGEST.test(value)) {
    throw new InvalidArgumentError(
      `${what}: ${JSON.stringify(truncate(value))} is not a digest of the form sha256:<64 lowercase hex digits>`,
    );
  }
  return value;
}

/** Long label values are cut in messages so a log line stays readable. */
export function truncate(value: string, max = 120): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}
