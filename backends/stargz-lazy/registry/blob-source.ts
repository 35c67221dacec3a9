/**
 * Where a layer blob lives, read from the labels containerd forwards on `prepare`:
 *
 * - `ctr-remote image rpull` (stargz-snapshotter's label handler):
 *   `containerd.io/snapshot/remote/stargz.reference` (image ref), `…/stargz.digest` (this
 *   layer), `…/stargz.layers` (this and the following layers, comma-separated, cut whole at the
 *   label size limit), `containerd.io/snapshot/remote/urls` (this layer's URLs) and
 *   `…/urls.<i>` (URLs of the i-th entry of `stargz.layers`), comma-separated, often empty.
 * - CRI (`disable_snapshot_annotations = false`): `containerd.io/snapshot/cri.image-ref`,
 *   `…/cri.layer-digest`, `…/cri.image-layers`.
 *
 * When both sets are present the stargz ones win (that is what stargz-snapshotter does).
 * No labels at all (plain `ctr image pull`) is not an error: `undefined`, an ordinary snapshot.
 */
import { InvalidArgumentError, type Labels } from '../../../core/sdk.js';
import { parseDigest, truncate } from './digest.js';
import { parseReference, type ImageReference } from './reference.js';

export const LABEL_STARGZ_REFERENCE = 'containerd.io/snapshot/remote/stargz.reference';
export const LABEL_STARGZ_DIGEST = 'containerd.io/snapshot/remote/stargz.digest';
export const LABEL_STARGZ_LAYERS = 'containerd.io/snapshot/remote/stargz.layers';
export const LABEL_REMOTE_URLS = 'containerd.io/snapshot/remote/urls';
export const LABEL_REMOTE_URLS_PREFIX = 'containerd.io/snapshot/remote/urls.';
export const LABEL_CRI_IMAGE_REF = 'containerd.io/snapshot/cri.image-ref';
export const LABEL_CRI_LAYER_DIGEST = 'containerd.io/snapshot/cri.layer-digest';
export const LABEL_CRI_IMAGE_LAYERS = 'containerd.io/snapshot/cri.image-layers';

/** One layer blob and the places to fetch it from. */
export interface LayerBlob {
  digest: string;
  /** Direct URLs from the image manifest (foreign layers); tried after the registry. */
  urls: string[];
}

export interface BlobSource {
  /** The image the layer belongs to: its registry host and repository locate the blob. */
  reference: ImageReference;
  /** The layer this snapshot is for. */
  layer: LayerBlob;
  /**
   * The layers that follow it in the image (not including it), in manifest order, as far as
   * the label carried them: candidates for prefetch.
   */
  neighbours: LayerBlob[];
  /** Which label set it came from. */
  origin: 'stargz' | 'cri';
}

/** The blob source the labels describe, `undefined` when they name none. */
export function blobSourceFromLabels(labels: Labels): BlobSource | undefined {
  if (labels[LABEL_STARGZ_REFERENCE] !== undefined || labels[LABEL_STARGZ_DIGEST] !== undefined) {
    return fromLabelSet(labels, 'stargz', LABEL_STARGZ_REFERENCE, LABEL_STARGZ_DIGEST, LABEL_STARGZ_LAYERS);
  }
  if (labels[LABEL_CRI_IMAGE_REF] !== undefined || labels[LABEL_CRI_LAYER_DIGEST] !== undefined) {
    return fromLabelSet(labels, 'cri', LABEL_CRI_IMAGE_REF, LABEL_CRI_LAYER_DIGEST, LABEL_CRI_IMAGE_LAYERS);
  }
  return undefined;
}

function fromLabelSet(
  labels: Labels,
  origin: BlobSource['origin'],
  refKey: string,
  digestKey: string,
  layersKey: string,
): BlobSource {
  const refValue = labels[refKey];
  const digestValue = labels[digestKey];
  if (refValue === undefined) throw new InvalidArgumentError(`label ${refKey} is missing (${digestKey} is set)`);
  if (digestValue === undefined) throw new InvalidArgumentError(`label ${digestKey} is missing (${refKey} is set)`);
  const reference = parseReference(refValue, `label ${refKey}`);
  const digest = parseDigest(digestValue, `label ${digestKey}`);
  const layer: LayerBlob = { digest, urls: origin === 'stargz' ? urlList(labels, LABEL_REMOTE_URLS) : [] };

  const neighbours: LayerBlob[] = [];
  const layersValue = labels[layersKey];
  if (layersValue !== undefined && layersValue !== '') {
    const digests = layersValue.split(',');
    const seen = new Set<string>([digest]);
    digests.forEach((value, i) => {
      const d = parseDigest(value, `label ${layersKey} entry ${i}`);
      if (seen.has(d)) return; // the layer itself, or a layer repeated in the image
      seen.add(d);
      neighbours.push({ digest: d, urls: origin === 'stargz' ? urlList(labels, `${LABEL_REMOTE_URLS_PREFIX}${i}`) : [] });
    });
  }
  return { reference, layer, neighbours, origin };
}

/** A comma-separated URL label: empty entries dropped, each an absolute http(s) URL. */
function urlList(labels: Labels, key: string): string[] {
  const value = labels[key];
  if (value === undefined || value === '') return [];
  const urls: string[] = [];
  for (const item of value.split(',')) {
    if (item === '') continue;
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new InvalidArgumentError(`label ${key}: ${JSON.stringify(truncate(item))} is not an absolute URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(`label ${key}: ${JSON.stringify(truncate(item))} is not an http(s) URL`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new InvalidArgumentError(`label ${key}: URLs with credentials are not accepted`);
    }
    urls.push(url.href);
  }
  return urls;
}
