import { describe, expect, it } from 'vitest';
import { mergeRanges, parseContentRange, rangeHeader } from '../../../../../backends/stargz-lazy/registry/content-range.js';

describe('content ranges', () => {
  it('parses satisfied Content-Range values', () => {
    expect(parseContentRange('bytes 0-9/100')).toEqual({ first: 0, last: 9, total: 100 });
    expect(parseContentRange('bytes 5-5/*')).toEqual({ first: 5, last: 5, total: undefined });
  });
  it.each([undefined, '', 'bytes */100', 'bytes 9-0/100', 'bytes 0-100/100', 'items 0-1/2', 'bytes 0-1/2, bytes 3-4/5', 'bytes -1-2/3'])(
    'rejects %j',
    (v) => expect(parseContentRange(v)).toBeUndefined(),
  );
  it('formats Range headers', () => {
    expect(rangeHeader([{ offset: 0, length: 1 }, { offset: 10, length: 5 }])).toBe('bytes=0-0,10-14');
  });
  it('merges overlapping and touching ranges, drops empty ones, sorts', () => {
    expect(
      mergeRanges([
        { offset: 50, length: 10 },
        { offset: 0, length: 10 },
        { offset: 10, length: 5 },
        { offset: 55, length: 20 },
        { offset: 100, length: 0 },
        { offset: 3, length: 2 },
      ]),
    ).toEqual([
      { offset: 0, length: 15 },
      { offset: 50, length: 25 },
    ]);
  });
});
