/**
 * mountLayerKernel's failures before serving (no kernel needed): /dev/fuse that cannot be opened
 * is a FailedPreconditionError naming why; a mount(2) refused is an UnavailableError and the
 * opened descriptor is closed.
 */
import { fstatSync, openSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FailedPreconditionError, UnavailableError } from '../../../../../core/sdk.js';
import type { LayerReader } from '../../../../../backends/stargz-lazy/fs/layer-fs.js';
import type { FuseDevice } from '../../../../../backends/stargz-lazy/fuse-kernel/fuse-device.js';
import { mountLayerKernel } from '../../../../../backends/stargz-lazy/fuse-kernel/mount-kernel.js';

const layer = { index: {} } as unknown as LayerReader;
const log = pino({ level: 'silent' });

describe('mountLayerKernel before serving', () => {
  it('answers FailedPrecondition when /dev/fuse cannot be opened', async () => {
    const device = { open: () => { throw Object.assign(new Error('open /dev/fuse: ENOENT'), { code: 'ENOENT' }); } } as unknown as FuseDevice;
    const err = await mountLayerKernel('/nowhere', layer, 'sha256:00', { log, readTimeoutMs: 1000, device }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect(String(err)).toMatch(/fs.transport "kernel": cannot open \/dev\/fuse: open \/dev\/fuse: ENOENT/);
  });

  it('closes the descriptor when mount(2) is refused, and says where', async () => {
    const fd = openSync('/dev/null', 'r');
    let data = '';
    const device = {
      open: () => fd,
      mount: (_t: string, _s: string, _f: string, _flags: number, d: string) => {
        data = d;
        throw Object.assign(new Error('mount: EPERM'), { code: 'EPERM' });
      },
    } as unknown as FuseDevice;
    const err = await mountLayerKernel('/mnt/x', layer, 'sha256:00', { log, readTimeoutMs: 1000, device }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(String(err)).toMatch(/cannot mount layer sha256:00 at \/mnt\/x: mount: EPERM/);
    expect(data).toMatch(new RegExp(`^fd=${fd},rootmode=40000,user_id=\\d+,group_id=\\d+,allow_other,default_permissions,max_read=\\d+$`));
    expect(() => fstatSync(fd)).toThrow(/EBADF/);
  });
});
