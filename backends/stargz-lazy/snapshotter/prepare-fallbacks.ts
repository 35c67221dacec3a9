/**
 * Remote prepares that answered an ordinary snapshot (containerd then pulls and unpacks the
 * layer itself), counted by reason since the backend opened: the series
 * `remote_prepare_fallbacks_total{reason}` of `snaphost status` and the metrics endpoint. Every
 * reason is reported, 0 until it happens, so that a rate over it is defined from the start.
 */
import type { BackendMetric } from '../../../core/sdk.js';

export const FALLBACK_REASONS = [
  /** The layer has no TOC digest label and `allowUnverifiedLayers` is false. */
  'unverified_layer',
  /** The labels name a blob badly (reference, digest, TOC digest, URLs). */
  'malformed_labels',
  /** The blob is an ordinary gzip layer. */
  'not_estargz',
  /** Any other failure of the mount: registry, a TOC that does not verify or breaks a cap, timeout. */
  'mount_failed',
] as const;

export type FallbackReason = (typeof FALLBACK_REASONS)[number];

export class PrepareFallbacks {
  readonly #counts = new Map<FallbackReason, number>(FALLBACK_REASONS.map((r) => [r, 0]));

  note(reason: FallbackReason): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
  }

  count(reason: FallbackReason): number {
    return this.#counts.get(reason) ?? 0;
  }

  metrics(): BackendMetric[] {
    return FALLBACK_REASONS.map((reason) => ({
      name: 'remote_prepare_fallbacks_total',
      help: 'Remote prepares answered with an ordinary snapshot that containerd fills, by reason',
      type: 'counter',
      value: this.count(reason),
      labels: { reason },
    }));
  }
}
