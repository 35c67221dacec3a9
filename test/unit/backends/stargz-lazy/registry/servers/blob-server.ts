/**
 * A registry-shaped node:http server that holds one blob in memory, for what Debian's
 * docker-registry cannot do on demand: answering multi-range with the full body, failing,
 * hanging, redirecting, lying about Content-Range. Tests pass a handler that picks the
 * behaviour per request; the building blocks here serve ranges correctly.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, type TestServer } from './listen.js';

export type Ranges = [first: number, last: number][];

export interface BlobRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
  ranges: Ranges | undefined;
}

export interface BlobServer extends TestServer {
  requests: BlobRequest[];
}

/** Parses `bytes=a-b,c-d` (no suffix ranges; the client never sends them). */
export function parseRangeHeader(value: string | undefined): Ranges | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(.+)$/.exec(value);
  if (!m) return undefined;
  return m[1]!.split(',').map((part) => {
    const [a, b] = part.trim().split('-');
    return [Number(a), Number(b)];
  });
}

export function sendFull(res: ServerResponse, data: Buffer): void {
  res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
  res.end(data);
}

export function sendRange(res: ServerResponse, data: Buffer, [first, last]: [number, number]): void {
  const end = Math.min(last, data.length - 1);
  res.writeHead(206, {
    'content-range': `bytes ${first}-${end}/${data.length}`,
    'content-length': end - first + 1,
    'content-type': 'application/octet-stream',
  });
  res.end(data.subarray(first, end + 1));
}

/** A multipart/byteranges answer; `lf` uses bare LF line ends, `preamble` adds text first. */
export function sendMultipart(
  res: ServerResponse,
  data: Buffer,
  ranges: Ranges,
  opts: { lf?: boolean; preamble?: string; boundary?: string } = {},
): void {
  const nl = opts.lf ? '\n' : '\r\n';
  const boundary = opts.boundary ?? 'SNAPHOST_TEST_BOUNDARY';
  const chunks: Buffer[] = [];
  if (opts.preamble) chunks.push(Buffer.from(opts.preamble + nl));
  ranges.forEach(([first, last], i) => {
    chunks.push(
      Buffer.from(
        `${i === 0 ? '' : nl}--${boundary}${nl}Content-Type: application/octet-stream${nl}Content-Range: bytes ${first}-${last}/${data.length}${nl}${nl}`,
      ),
    );
    chunks.push(data.subarray(first, last + 1));
  });
  chunks.push(Buffer.from(`${nl}--${boundary}--${nl}`));
  const body = Buffer.concat(chunks);
  res.writeHead(206, {
    'content-type': `multipart/byteranges; boundary=${opts.boundary ? `"${boundary}"` : boundary}`,
    'content-length': body.length,
  });
  res.end(body);
}

/** Serves `data` correctly: HEAD, full GET, single and multi-range GET. */
export function serveBlob(req: IncomingMessage, res: ServerResponse, data: Buffer): void {
  if (req.method === 'HEAD') {
    res.writeHead(200, { 'content-length': data.length }).end();
    return;
  }
  const ranges = parseRangeHeader(req.headers.range);
  if (!ranges) return sendFull(res, data);
  if (ranges.length === 1) return sendRange(res, data, ranges[0]!);
  return sendMultipart(res, data, ranges);
}

export async function startBlobServer(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>,
): Promise<BlobServer> {
  const requests: BlobRequest[] = [];
  const server = await listen((req, res) => {
    requests.push({
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://x').pathname,
      range: req.headers.range,
      authorization: req.headers.authorization,
      ranges: parseRangeHeader(req.headers.range),
    });
    return handler(req, res, requests.length);
  });
  return { ...server, requests };
}
