// HTTP byte ranges (RFC 9110 §14) for the test proxy's locally served blobs: parse a `Range`
// header against a known size, and write a 200, a 206 with one range, or a 206
// `multipart/byteranges` answer from an in-memory blob.
import { randomBytes } from 'node:crypto';

/**
 * Parses `bytes=a-b,c-,-n` for a blob of `size` bytes.
 * @returns {null | 'unsatisfiable' | {start: number, end: number}[]} null: no (or an ignorable)
 *   Range header, so the whole blob is the answer; end is inclusive.
 */
export function parseRange(header, size) {
  if (header === undefined || header === '') return null;
  const m = /^bytes=(.+)$/.exec(header.trim());
  if (!m) return null; // an unknown unit is ignored (RFC 9110 §14.2)
  const ranges = [];
  for (const spec of m[1].split(',')) {
    const r = /^\s*(\d*)-(\d*)\s*$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return null; // malformed: ignore the header
    let start;
    let end;
    if (r[1] === '') {
      const suffix = Number(r[2]);
      if (suffix === 0) continue;
      start = Math.max(0, size - suffix);
      end = size - 1;
    } else {
      start = Number(r[1]);
      end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
      if (r[2] !== '' && Number(r[2]) < start) return null;
    }
    if (start < size) ranges.push({ start, end });
  }
  return ranges.length === 0 ? 'unsatisfiable' : ranges;
}

/**
 * Answers `res` with the parts of `blob` that `rangeHeader` asks for.
 * @returns {{ranges: {start: number, end: number}[], bytes: number}} the blob ranges that were
 *   sent (end inclusive) and the body's length
 */
export function sendRanges(res, blob, rangeHeader, headers) {
  const ranges = parseRange(rangeHeader, blob.length);
  const common = { ...headers, 'accept-ranges': 'bytes' };
  if (ranges === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'content-range': `bytes */${blob.length}`, 'content-length': 0 });
    res.end();
    return { ranges: [], bytes: 0 };
  }
  if (ranges === null) {
    res.writeHead(200, { ...common, 'content-type': 'application/octet-stream', 'content-length': blob.length });
    res.end(blob);
    return { ranges: [{ start: 0, end: blob.length - 1 }], bytes: blob.length };
  }
  if (ranges.length === 1) {
    const { start, end } = ranges[0];
    res.writeHead(206, {
      ...common,
      'content-type': 'application/octet-stream',
      'content-range': `bytes ${start}-${end}/${blob.length}`,
      'content-length': end - start + 1,
    });
    res.end(blob.subarray(start, end + 1));
    return { ranges, bytes: end - start + 1 };
  }
  const boundary = `snaphost-e2e-${randomBytes(8).toString('hex')}`;
  const parts = [];
  for (const { start, end } of ranges) {
    parts.push(
      Buffer.from(
        `\r\n--${boundary}\r\ncontent-type: application/octet-stream\r\n` +
          `content-range: bytes ${start}-${end}/${blob.length}\r\n\r\n`,
      ),
      blob.subarray(start, end + 1),
    );
  }
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const body = Buffer.concat(parts);
  res.writeHead(206, {
    ...common,
    'content-type': `multipart/byteranges; boundary=${boundary}`,
    'content-length': body.length,
  });
  res.end(body);
  return { ranges, bytes: body.length };
}
