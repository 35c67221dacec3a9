/** The reason a layer's restore failed, from the errors the FUSE process's client throws. */
import { describe, expect, it } from 'vitest';
import { FusedUnreachableError, NotEstargzLayerError } from '../../../../../backends/stargz-lazy/protocol/fused-errors.js';
import { restoreFailureOf } from '../../../../../backends/stargz-lazy/snapshotter/restore-failure.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '../../../../../core/sdk.js';

const ended = { timedOut: false, cancelled: false, timeoutMs: 30_000 };

describe('restoreFailureOf', () => {
  it.each([
    [new NotEstargzLayerError('FUSE process: not eStargz'), 'not-estargz', 'the blob is not eStargz any more: FUSE process: not eStargz'],
    [new UnavailableError('connect ECONNREFUSED'), 'registry-unreachable', 'the registry is unreachable or served bad data: connect ECONNREFUSED'],
    [new FusedUnreachableError('no process answers'), 'fused-unreachable', 'the FUSE-serving process could not be reached: no process answers'],
    [new InvalidArgumentError('TOC digest mismatch'), 'invalid-layer', 'the layer or its request is invalid: TOC digest mismatch'],
    [new FailedPreconditionError('mountpoint is not empty'), 'directory-unusable', 'its mount point cannot be used: mountpoint is not empty'],
    [new NotFoundError('mountpoint does not exist'), 'directory-unusable', 'its mount point cannot be used: mountpoint does not exist'],
    [new Error('boom'), 'internal', 'boom'],
  ])('%s -> %s', (err, reason, message) => {
    expect(restoreFailureOf(err, ended)).toEqual({ reason, message });
  });

  it('a timeout or a cancel wins over the error it caused', () => {
    const aborted = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(restoreFailureOf(aborted, { ...ended, timedOut: true })).toEqual({
      reason: 'timeout',
      message: 'not mounted within 30000 ms (the registry is slow or does not answer)',
    });
    expect(restoreFailureOf(new UnavailableError('closed'), { ...ended, timedOut: true, cancelled: true })).toEqual({ reason: 'cancelled', message: 'cancelled: closed' });
  });
});
