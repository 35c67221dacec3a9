/**
 * Parser of `multipart/byteranges` bodies (RFC 9110 §14.6), strict where it matters (each
 * part's Content-Range, exact part lengths) and lenient where servers differ (preamble, bare LF
 * line ends, transport padding, header order and case, missing final CRLF).
 */
import { parseContentRange, type ContentRange } from './content-range.js';

export interface BodyPart {
  range: ContentRange;
  data: Buffer;
}

/** The boundary of a `multipart/byteranges` content type, undefined for any other type. */
export function byterangesBoundary(contentType: string | string[] | undefined): string | undefined {
  if (typeof contentType !== 'string') return undefined;
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/byteranges') return undefined;
  for (const param of params) {
    const m = /^\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.){1,70})"|([^\s";]{1,70}))\s*$/i.exec(param);
    if (m) return (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1');
  }
  return undefined;
}

/** Parses the parts; throws an Error saying what is wrong (the caller adds blob and host). */
export function parseByteranges(body: Buffer, boundary: string): BodyPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: BodyPart[] = [];
  // The first delimiter may start the body or follow a preamble line.
  let pos = findDelimiter(body, delimiter, 0);
  if (pos === -1) throw new Error(`no multipart boundary "${boundary}" in the body`);
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return finish(parts); // "--": close delimiter
    pos = skipLine(body, pos, 'boundary line');
    const headers: Record<string, string> = {};
    for (;;) {
      const end = lineEnd(body, pos);
      if (end === -1) throw new Error('part headers are not terminated');
      const line = body.subarray(pos, end).toString('latin1').replace(/\r$/, '');
      pos = end + 1;
      if (line === '') break;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`malformed part header ${JSON.stringify(line.slice(0, 80))}`);
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const range = parseContentRange(headers['content-range']);
    if (!range) throw new Error(`part without a valid Content-Range (got ${JSON.stringify(headers['content-range'] ?? null)})`);
    const length = range.last - range.first + 1;
    if (pos + length > body.length) throw new Error(`part ${range.first}-${range.last} is cut short`);
    parts.push({ range, data: body.subarray(pos, pos + length) });
    pos += length;
    // The data must be followed by CRLF (or LF) and the next delimiter.
    if (body[pos] === 0x0d) pos++;
    if (body[pos] !== 0x0a || !body.subarray(pos + 1, pos + 1 + delimiter.length).equals(delimiter)) {
      throw new Error(`part ${range.first}-${range.last} is longer than its Content-Range or not followed by the boundary`);
    }
    pos += 1;
  }
}

function finish(parts: BodyPart[]): BodyPart[] {
  if (parts.length === 0) throw new Error('multipart body has no parts');
  return parts;
}

/** Position of a delimiter at the body start or at a line start, from `from`. */
function findDelimiter(body: Buffer, delimiter: Buffer, from: number): number {
  if (body.subarray(from, from + delimiter.length).equals(delimiter)) return from;
  let i = from;
  for (;;) {
    i = body.indexOf(delimiter, i);
    if (i === -1 || body[i - 1] === 0x0a) return i;
    i += 1;
  }
}

/** Skips transport padding and the line end after a delimiter. */
function skipLine(body: Buffer, pos: number, what: string): number {
  let p = pos;
  while (body[p] === 0x20 || body[p] === 0x09) p++;
  if (body[p] === 0x0d) p++;
  if (body[p] !== 0x0a) throw new Error(`${what} is not followed by a line end`);
  return p + 1;
}

function lineEnd(body: Buffer, pos: number): number {
  const end = body.indexOf(0x0a, pos);
  return end === -1 || end - pos > 8192 ? -1 : end;
}
