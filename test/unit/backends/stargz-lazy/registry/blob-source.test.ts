import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import {
  blobSourceFromLabels,
  LABEL_CRI_IMAGE_LAYERS,
  LABEL_CRI_IMAGE_REF,
  LABEL_CRI_LAYER_DIGEST,
  LABEL_REMOTE_URLS,
  LABEL_STARGZ_DIGEST,
  LABEL_STARGZ_LAYERS,
  LABEL_STARGZ_REFERENCE,
} from '../../../../../backends/stargz-lazy/registry/blob-source.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('blobSourceFromLabels', () => {
  it('reads what ctr-remote rpull sends', () => {
    const source = blobSourceFromLabels({
      'containerd.io/snapshot.ref': 'sha256:chain',
      [LABEL_STARGZ_REFERENCE]: '127.0.0.1:5000/tiny:esgz',
      [LABEL_STARGZ_DIGEST]: d('b'),
      [LABEL_STARGZ_LAYERS]: `${d('a')},${d('b')},${d('c')}`,
      'containerd.io/snapshot/remote/stargz.prefetch': '10485760',
      [LABEL_REMOTE_URLS]: '',
      'containerd.io/snapshot/remote/urls.0': 'https://cdn.example/a,',
      'containerd.io/snapshot/remote/urls.2': '',
    });
    expect(source).toEqual({
      origin: 'stargz',
      reference: { host: '127.0.0.1:5000', repository: 'tiny', tag: 'esgz' },
      layer: { digest: d('b'), urls: [] },
      neighbours: [
        { digest: d('a'), urls: ['https://cdn.example/a'] },
        { digest: d('c'), urls: [] },
      ],
    });
  });

  it('reads the CRI labels', () => {
    expect(
      blobSourceFromLabels({
        [LABEL_CRI_IMAGE_REF]: 'docker.io/library/nginx:latest',
        [LABEL_CRI_LAYER_DIGEST]: d('1'),
        [LABEL_CRI_IMAGE_LAYERS]: `${d('1')},${d('2')}`,
        'containerd.io/snapshot/cri.manifest-digest': d('9'),
      }),
    ).toEqual({
      origin: 'cri',
      reference: { host: 'docker.io', repository: 'library/nginx', tag: 'latest' },
      layer: { digest: d('1'), urls: [] },
      neighbours: [{ digest: d('2'), urls: [] }],
    });
  });

  it('prefers the stargz labels when both sets are present', () => {
    const source = blobSourceFromLabels({
      [LABEL_CRI_IMAGE_REF]: 'docker.io/library/nginx:latest',
      [LABEL_CRI_LAYER_DIGEST]: d('1'),
      [LABEL_STARGZ_REFERENCE]: 'localhost:5000/x',
      [LABEL_STARGZ_DIGEST]: d('2'),
    });
    expect(source?.origin).toBe('stargz');
    expect(source?.layer.digest).toBe(d('2'));
  });

  it('is undefined without remote labels (plain ctr image pull)', () => {
    expect(blobSourceFromLabels({})).toBeUndefined();
    expect(blobSourceFromLabels({ 'containerd.io/snapshot.ref': 'sha256:x' })).toBeUndefined();
  });

  it.each([
    [{ [LABEL_STARGZ_DIGEST]: d('a') }, `label ${LABEL_STARGZ_REFERENCE} is missing`],
    [{ [LABEL_STARGZ_REFERENCE]: 'localhost/x' }, `label ${LABEL_STARGZ_DIGEST} is missing`],
    [{ [LABEL_STARGZ_REFERENCE]: 'localhost/x', [LABEL_STARGZ_DIGEST]: 'sha256:ABC' }, `label ${LABEL_STARGZ_DIGEST}: "sha256:ABC"`],
    [{ [LABEL_STARGZ_REFERENCE]: 'localhost/X', [LABEL_STARGZ_DIGEST]: d('a') }, `label ${LABEL_STARGZ_REFERENCE}: `],
    [
      { [LABEL_STARGZ_REFERENCE]: 'localhost/x', [LABEL_STARGZ_DIGEST]: d('a'), [LABEL_STARGZ_LAYERS]: `${d('a')},nope` },
      `label ${LABEL_STARGZ_LAYERS} entry 1: "nope"`,
    ],
    [
      { [LABEL_STARGZ_REFERENCE]: 'localhost/x', [LABEL_STARGZ_DIGEST]: d('a'), [LABEL_REMOTE_URLS]: 'ftp://x/y' },
      `label ${LABEL_REMOTE_URLS}: "ftp://x/y" is not an http(s) URL`,
    ],
    [
      { [LABEL_STARGZ_REFERENCE]: 'localhost/x', [LABEL_STARGZ_DIGEST]: d('a'), [LABEL_REMOTE_URLS]: 'not a url' },
      `label ${LABEL_REMOTE_URLS}: "not a url" is not an absolute URL`,
    ],
    [{ [LABEL_CRI_LAYER_DIGEST]: d('a') }, `label ${LABEL_CRI_IMAGE_REF} is missing`],
  ])('rejects %j naming the label', (labels, message) => {
    expect(() => blobSourceFromLabels(labels)).toThrow(InvalidArgumentError);
    expect(() => blobSourceFromLabels(labels)).toThrow(message);
  });
});
