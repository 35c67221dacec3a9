/** The device of a layer mount from a mountinfo text (the bdi whose read-ahead is raised). */
import { describe, expect, it } from 'vitest';
import { deviceOf } from '../../../../../backends/stargz-lazy/fuse-kernel/readahead.js';

const INFO = [
  '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '40 22 0:40 / /var/lib/s/1/fs ro,relatime shared:20 - fuse.snaphost-stargz snaphost-stargz:sha256:aa ro,user_id=0',
  '41 22 0:41 / /var/lib/with\\040space/fs ro,relatime - fuse.snaphost-stargz snaphost-stargz:sha256:bb ro',
  '42 22 0:42 / /var/lib/s/1/fs ro,relatime - fuse.snaphost-stargz snaphost-stargz:sha256:cc ro',
  '43 22 0:43 / /var/lib/s/2/fs rw - overlay overlay rw',
  '',
].join('\n');

describe('deviceOf', () => {
  it('finds the last mount of the type at the mountpoint, unescaping the path', () => {
    expect(deviceOf(INFO, '/var/lib/s/1/fs', 'fuse.snaphost-stargz')).toBe('0:42');
    expect(deviceOf(INFO, '/var/lib/with space/fs', 'fuse.snaphost-stargz')).toBe('0:41');
    expect(deviceOf(INFO, '/var/lib/s/2/fs', 'fuse.snaphost-stargz')).toBeUndefined();
    expect(deviceOf(INFO, '/nowhere', 'fuse.snaphost-stargz')).toBeUndefined();
  });
});
