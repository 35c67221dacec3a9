import { describe, expect, it } from 'vitest';
import { LABEL_TOC_DIGEST, remoteLayerOfLabels, remoteRequestFromLabels, targetOf } from '../../../../../backends/stargz-lazy/snapshotter/remote-request.js';
import {
  LABEL_CRI_IMAGE_REF,
  LABEL_CRI_LAYER_DIGEST,
  LABEL_REMOTE_URLS,
  LABEL_STARGZ_DIGEST,
  LABEL_STARGZ_REFERENCE,
} from '../../../../../backends/stargz-lazy/registry/blob-source.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('targetOf', () => {
  it('is the containerd.io/snapshot.ref label, when set and not empty', () => {
    expect(targetOf({ 'containerd.io/snapshot.ref': d('c') })).toBe(d('c'));
    expect(targetOf({ 'containerd.io/snapshot.ref': '' })).toBeUndefined();
    expect(targetOf({})).toBeUndefined();
  });
});

describe('remoteRequestFromLabels', () => {
  it('is undefined without blob labels (plain ctr image pull)', () => {
    expect(remoteRequestFromLabels({ 'containerd.io/snapshot.ref': d('c') }, 100)).toBeUndefined();
  });

  it('reads what ctr-remote rpull sends, with the TOC digest and URLs', () => {
    expect(
      remoteRequestFromLabels(
        {
          'containerd.io/snapshot.ref': d('c'),
          [LABEL_STARGZ_REFERENCE]: '127.0.0.1:5000/tiny:esgz',
          [LABEL_STARGZ_DIGEST]: d('b'),
          [LABEL_TOC_DIGEST]: d('e'),
          [LABEL_REMOTE_URLS]: 'https://cdn.example/b',
        },
        4096,
      ),
    ).toEqual({ reference: '127.0.0.1:5000/tiny:esgz', digest: d('b'), tocDigest: d('e'), urls: ['https://cdn.example/b'], prefetchBytes: 4096 });
  });

  it('reads the CRI labels; no TOC digest or URLs means none are sent', () => {
    expect(remoteRequestFromLabels({ [LABEL_CRI_IMAGE_REF]: 'registry.example/a/b@' + d('f'), [LABEL_CRI_LAYER_DIGEST]: d('b') }, 0)).toEqual({
      reference: `registry.example/a/b@${d('f')}`,
      digest: d('b'),
      prefetchBytes: 0,
    });
  });

  it('refuses malformed labels with InvalidArgumentError naming the label', () => {
    const base = { [LABEL_STARGZ_REFERENCE]: '127.0.0.1:5000/tiny:esgz', [LABEL_STARGZ_DIGEST]: d('b') };
    expect(() => remoteRequestFromLabels({ ...base, [LABEL_TOC_DIGEST]: 'md5:x' }, 0)).toThrow(/toc\.digest/);
    expect(() => remoteRequestFromLabels({ ...base, [LABEL_STARGZ_DIGEST]: 'nope' }, 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => remoteRequestFromLabels({ [LABEL_STARGZ_DIGEST]: d('b') }, 0)).toThrow(/stargz\.reference/);
  });
});

describe('remoteLayerOfLabels', () => {
  it("names the layer and image of ctr-remote's and of CRI's label sets", () => {
    expect(remoteLayerOfLabels({ [LABEL_STARGZ_REFERENCE]: 'reg:5000/app:v1', [LABEL_STARGZ_DIGEST]: d('a') })).toEqual({
      digest: d('a'),
      reference: 'reg:5000/app:v1',
    });
    expect(remoteLayerOfLabels({ [LABEL_CRI_IMAGE_REF]: 'reg:5000/app:v1', [LABEL_CRI_LAYER_DIGEST]: d('b') })).toEqual({
      digest: d('b'),
      reference: 'reg:5000/app:v1',
    });
  });

  it('is empty for labels that name no blob, or name one badly (it is for messages, never throws)', () => {
    expect(remoteLayerOfLabels({})).toEqual({});
    expect(remoteLayerOfLabels({ [LABEL_STARGZ_REFERENCE]: 'reg:5000/app:v1', [LABEL_STARGZ_DIGEST]: 'not-a-digest' })).toEqual({});
  });
});
