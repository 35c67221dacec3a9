import { describe, expect, it } from 'vitest';
import { parseMountInfo } from '../../../../../backends/stargz-lazy/fused/mountinfo.js';

describe('parseMountInfo', () => {
  it('reads mount point, type and source, unescaping octal escapes, skipping optional fields', () => {
    const text = [
      '51 27 0:43 / /tmp/a\\040b ro,relatime shared:1 master:2 - fuse.snaphost-stargz snaphost-stargz:sha256:ab ro,user_id=0',
      '52 27 0:44 / /merged rw - overlay overlay rw,lowerdir=/x',
      'garbage',
      '',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountpoint: '/tmp/a b', fstype: 'fuse.snaphost-stargz', source: 'snaphost-stargz:sha256:ab' },
      { mountpoint: '/merged', fstype: 'overlay', source: 'overlay' },
    ]);
  });
});
