/**
 * From the labels of a `prepare` to the layer the FUSE process should mount, or to the reason
 * the snapshot stays local. containerd's unpacker sets `containerd.io/snapshot.ref` (the chain
 * id) on every layer prepare; only the labels of `ctr-remote rpull` or CRI tell where the blob
 * lives, and only they make a remote snapshot possible.
 */
import { LABEL_TARGET_REF, type Labels } from '../../../core/sdk.js';
import type { LayerMountRequest } from '../fused-client/fused-link.js';
import { blobSourceFromLabels } from '../registry/blob-source.js';
import { parseDigest } from '../registry/digest.js';
import { formatReference } from '../registry/reference.js';

/** The TOC digest ctr-remote's converter puts on each eStargz layer; containerd forwards it. */
export const LABEL_TOC_DIGEST = 'containerd.io/snapshot/stargz/toc.digest';

/** Layers named to the FUSE process for opening ahead (it opens only the next few). */
const MAX_FOLLOWING = 16;

export type RemoteRequest = Omit<LayerMountRequest, 'mountpoint'>;

/** The target chain id, when containerd offered this prepare to a remote snapshotter. */
export function targetOf(labels: Labels): string | undefined {
  const target = labels[LABEL_TARGET_REF];
  return target === undefined || target === '' ? undefined : target;
}

/**
 * The layer to mount, `undefined` when the labels name no blob (plain `ctr image pull`).
 * Throws InvalidArgumentError for labels that name a blob badly (the caller falls back).
 */
export function remoteRequestFromLabels(labels: Labels, prefetchBytes: number): RemoteRequest | undefined {
  const source = blobSourceFromLabels(labels);
  if (source === undefined) return undefined;
  const toc = labels[LABEL_TOC_DIGEST];
  const request: RemoteRequest = {
    reference: formatReference(source.reference),
    digest: source.layer.digest,
    prefetchBytes,
  };
  if (toc !== undefined && toc !== '') request.tocDigest = parseDigest(toc, `label ${LABEL_TOC_DIGEST}`);
  if (source.layer.urls.length > 0) request.urls = source.layer.urls;
  if (source.neighbours.length > 0) {
    request.following = source.neighbours
      .slice(0, MAX_FOLLOWING)
      .map((n) => (n.urls.length > 0 ? { digest: n.digest, urls: n.urls } : { digest: n.digest }));
  }
  return request;
}

/**
 * The layer digest and image reference a remote snapshot's labels name (ctr-remote's or CRI's
 * label set), for messages and status; fields the labels do not name well are left out.
 */
export function remoteLayerOfLabels(labels: Labels): { digest?: string; reference?: string } {
  try {
    const source = blobSourceFromLabels(labels);
    if (source === undefined) return {};
    return { digest: source.layer.digest, reference: formatReference(source.reference) };
  } catch {
    return {};
  }
}
