import { describe, expect, it } from 'vitest';
import { digestAlgorithm, digestOf } from '../../../../../backends/stargz-lazy/estargz/digest.js';

describe('digests', () => {
  it('recognises the algorithms go-digest accepts, with exact lowercase hex', () => {
    expect(digestAlgorithm(`sha256:${'a'.repeat(64)}`)).toBe('sha256');
    expect(digestAlgorithm(`sha384:${'b'.repeat(96)}`)).toBe('sha384');
    expect(digestAlgorithm(`sha512:${'c'.repeat(128)}`)).toBe('sha512');
    for (const bad of [`sha256:${'a'.repeat(63)}`, `sha256:${'A'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'sha256:', '', `sha512:${'c'.repeat(64)}`]) {
      expect(digestAlgorithm(bad), bad).toBeUndefined();
    }
  });

  it('computes OCI digests', () => {
    expect(digestOf(Buffer.alloc(0))).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(digestOf(Buffer.from('abc'), 'sha512')).toMatch(/^sha512:ddaf35a1/);
  });
});
