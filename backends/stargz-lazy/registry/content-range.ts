/** HTTP byte ranges (RFC 9110 §14): the `Range` we send and the `Content-Range` we get back. */

/** `length` bytes from `offset`. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** A `Content-Range: bytes first-last/total` (total undefined for `*`). */
export interface ContentRange {
  first: number;
  last: number;
  total: number | undefined;
}

/** `bytes=a-b,c-d` for non-empty ranges. */
export function rangeHeader(ranges: readonly ByteRange[]): string {
  return `bytes=${ranges.map((r) => `${r.offset}-${r.offset + r.length - 1}`).join(',')}`;
}

/** Parses a satisfied Content-Range; undefined if malformed or inconsistent. */
export function parseContentRange(value: string | string[] | undefined): ContentRange | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\s*bytes\s+(\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first > last) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || last >= total)) return undefined;
  return { first, last, total };
}

/** The length a Content-Range covers. */
export function contentRangeLength(r: ContentRange): number {
  return r.last - r.first + 1;
}

/**
 * Sorts ranges and merges overlapping or touching ones into spans (servers may refuse
 * overlapping ranges, and fewer parts cost less).
 */
export function mergeRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const spans: ByteRange[] = [];
  for (const r of sorted) {
    const prev = spans[spans.length - 1];
    if (prev && r.offset <= prev.offset + prev.length) {
      prev.length = Math.max(prev.length, r.offset + r.length - prev.offset);
    } else {
      spans.push({ offset: r.offset, length: r.length });
    }
  }
  return spans;
}
