/**
 * Cutting the ranges a reader was asked for out of what the registry sent: merged spans
 * (`mergeRanges`), or the parts of a multipart/byteranges answer. No copies: subarrays.
 */
import type { ByteRange } from './content-range.js';
import type { BodyPart } from './multipart.js';

/** The span part that contains `span` entirely, cut to it. */
export function cover(parts: BodyPart[], span: ByteRange): Buffer | undefined {
  for (const p of parts) {
    if (p.range.first <= span.offset && p.range.last >= span.offset + span.length - 1) {
      const start = span.offset - p.range.first;
      return p.data.subarray(start, start + span.length);
    }
  }
  return undefined;
}

/** The bytes of range `r` out of the merged spans that hold it. */
export function slice(spans: ByteRange[], data: Buffer[], r: ByteRange): Buffer {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (spans[mid]!.offset <= r.offset) lo = mid;
    else hi = mid - 1;
  }
  const start = r.offset - spans[lo]!.offset;
  return data[lo]!.subarray(start, start + r.length);
}
