/**
 * OCI content digests (`sha256:<hex>`), as eStargz uses them for the TOC and for chunks.
 * The algorithms go-digest accepts; hex is lowercase with the algorithm's exact length.
 */
import { hash } from 'node:crypto';

const HEX_LENGTH = { sha256: 64, sha384: 96, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof HEX_LENGTH;

const DIGEST_RE = /^(sha256|sha384|sha512):([0-9a-f]+)$/;

/** The algorithm of a well-formed digest, or undefined when `value` is not one. */
export function digestAlgorithm(value: string): DigestAlgorithm | undefined {
  const m = DIGEST_RE.exec(value);
  if (!m) return undefined;
  const algorithm = m[1] as DigestAlgorithm;
  return m[2]!.length === HEX_LENGTH[algorithm] ? algorithm : undefined;
}

/** The digest of `data` with `algorithm`, in OCI form (one-shot: no Hash object per chunk verified). */
export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${hash(algorithm, data, 'hex')}`;
}
