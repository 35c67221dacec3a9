import { describe, expect, it } from 'vitest';
import { chunkPath } from '../../../../../backends/stargz-lazy/cache/chunk-path.js';
import { InvalidArgumentError } from '../../../../../core/sdk.js';

const hex = 'ab'.repeat(32);

describe('chunkPath', () => {
  it('lays sha256 digests out as <hex[0:2]>/<hex>, others under their algorithm', () => {
    expect(chunkPath(`sha256:${hex}`)).toEqual({ algorithm: 'sha256', dir: 'ab', file: `ab/${hex}` });
    const h512 = 'c'.repeat(128);
    expect(chunkPath(`sha512:${h512}`)).toEqual({ algorithm: 'sha512', dir: 'sha512/cc', file: `sha512/cc/${h512}` });
  });

  it.each([
    '',
    hex,
    `sha256:${hex.toUpperCase()}`,
    `sha256:${hex}0`,
    `sha256:${hex.slice(1)}`,
    `sha256:../../${hex.slice(6)}`,
    `sha256:${hex}/../x`,
    `md5:${'a'.repeat(32)}`,
    `sha256:${hex}\0`,
  ])('refuses %j', (digest) => {
    expect(() => chunkPath(digest)).toThrow(InvalidArgumentError);
  });
});
