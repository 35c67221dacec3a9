import { describe, expect, it } from 'vitest';
import { byterangesBoundary, parseByteranges } from '../../../../../backends/stargz-lazy/registry/multipart.js';

const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

function body(parts: [number, number][], nl = '\r\n', preamble = ''): Buffer {
  const chunks: Buffer[] = [Buffer.from(preamble)];
  parts.forEach(([a, b], i) => {
    chunks.push(Buffer.from(`${i ? nl : ''}--B${nl}content-range: bytes ${a}-${b}/36${nl}Content-Type: x${nl}${nl}`));
    chunks.push(data.subarray(a, b + 1));
  });
  chunks.push(Buffer.from(`${nl}--B--${nl}`));
  return Buffer.concat(chunks);
}

describe('byterangesBoundary', () => {
  it.each([
    ['multipart/byteranges; boundary=abc', 'abc'],
    ['Multipart/ByteRanges;boundary="a b\\"c"', 'a b"c'],
    ['multipart/byteranges; charset=x; boundary=3d6b6a416f9b5', '3d6b6a416f9b5'],
  ])('%s', (ct, b) => expect(byterangesBoundary(ct)).toBe(b));
  it.each([undefined, 'application/octet-stream', 'multipart/byteranges', 'multipart/mixed; boundary=x'])('none in %s', (ct) =>
    expect(byterangesBoundary(ct)).toBeUndefined(),
  );
});

describe('parseByteranges', () => {
  it('parses CRLF parts, also binary data that contains the boundary text', () => {
    const parts = parseByteranges(body([[0, 3], [10, 12]]), 'B');
    expect(parts.map((p) => [p.range.first, p.range.last, p.data.toString()])).toEqual([
      [0, 3, '0123'],
      [10, 12, 'abc'],
    ]);
    const tricky = Buffer.from('--B\r\nContent-Range: bytes 0-6/7\r\n\r\n\r\n--B\r\n\r\n--B--\r\n');
    expect(parseByteranges(tricky, 'B')[0]?.data.toString()).toBe('\r\n--B\r\n');
  });

  it('tolerates LF line ends and a preamble', () => {
    const parts = parseByteranges(body([[5, 5], [30, 35]], '\n', 'this is a preamble\n'), 'B');
    expect(parts.map((p) => p.data.toString())).toEqual(['5', 'uvwxyz']);
  });

  it.each([
    ['no boundary', Buffer.from('hello'), /no multipart boundary/],
    ['no parts', Buffer.from('--B--\r\n'), /no parts/],
    ['missing Content-Range', Buffer.from('--B\r\nContent-Type: x\r\n\r\nab\r\n--B--'), /without a valid Content-Range/],
    ['bad Content-Range', Buffer.from('--B\r\nContent-Range: bytes 5-2/9\r\n\r\nab\r\n--B--'), /without a valid Content-Range/],
    ['cut short', Buffer.from('--B\r\nContent-Range: bytes 0-9/36\r\n\r\n0123'), /cut short/],
    ['longer than announced', Buffer.from('--B\r\nContent-Range: bytes 0-1/36\r\n\r\n0123\r\n--B--'), /longer than its Content-Range/],
    ['unterminated headers', Buffer.from('--B\r\nContent-Range: bytes 0-1/36'), /not terminated/],
    ['malformed header', Buffer.from('--B\r\nno colon here\r\n\r\n'), /malformed part header/],
  ])('rejects %s', (_name, input, why) => {
    expect(() => parseByteranges(input, 'B')).toThrow(why);
  });
});
