/** RejectedBlobs: remembers only definitive "not eStargz" rejections, by digest, bounded (least recently used out). */
import { describe, expect, it } from 'vitest';
import { MalformedEstargzError, NotEstargzError, VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { RejectedBlobs } from '../../../../../backends/stargz-lazy/fused/rejected-blobs.js';
import { UnavailableError } from '../../../../../core/sdk.js';

const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

describe('RejectedBlobs', () => {
  it('answers the remembered rejection itself, which says why', () => {
    const memo = new RejectedBlobs();
    const err = new NotEstargzError('eStargz footer: no gzip header');
    memo.note(digest(1), err);
    expect(memo.get(digest(1))).toBe(err);
    expect(memo.get(digest(1))!.message).toBe('not an eStargz blob: eStargz footer: no gzip header');
    expect(memo.get(digest(2))).toBeUndefined();
  });

  it('does not remember failures that are no answer about the blob', () => {
    const memo = new RejectedBlobs();
    memo.note(digest(1), new UnavailableError('registry: HTTP 503'));
    memo.note(digest(2), new VerificationError('TOC', 'sha256:a', 'sha256:b', 'digest mismatch'));
    memo.note(digest(3), new DOMException('aborted', 'AbortError'));
    memo.note(digest(4), new MalformedEstargzError('TOC offset is not before the footer'));
    memo.note(digest(5), new Error('timeout'));
    expect(memo.size).toBe(0);
  });

  it('holds at most max digests: after max + 1 distinct ones, the least recently used is gone', () => {
    const max = 8;
    const memo = new RejectedBlobs(max);
    for (let i = 0; i < max; i++) memo.note(digest(i), new NotEstargzError(`blob ${i}`));
    expect(memo.get(digest(0))).toBeDefined(); // used: now the most recent
    memo.note(digest(max), new NotEstargzError(`blob ${max}`));
    expect(memo.size).toBe(max);
    expect(memo.get(digest(1))).toBeUndefined();
    expect(memo.get(digest(0))!.message).toMatch(/blob 0$/);
    expect(memo.get(digest(max))!.message).toMatch(new RegExp(`blob ${max}$`));
  });
});
