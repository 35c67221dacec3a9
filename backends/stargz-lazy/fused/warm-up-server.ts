/**
 * A throwaway blob server on 127.0.0.1 (an ephemeral port) for the warm-up (warm-up.ts): HEAD,
 * GET of one range (206) and of several (206 multipart/byteranges), as a registry's blob
 * endpoint answers, for whatever path is asked. Never reachable from outside the host; closed
 * when the warm-up ends.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WarmUpServer {
  /** `127.0.0.1:<port>` */
  host: string;
  close(): Promise<void>;
}

export async function serveWarmUpBlob(data: Buffer): Promise<WarmUpServer> {
  const server = createServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' }).end();
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    const ranges = parseRanges(req.headers.range, data.length);
    if (ranges === undefined) {
      res.writeHead(200, { 'content-length': data.length }).end(data);
    } else if (ranges.length === 1) {
      const [a, b] = ranges[0]!;
      res.writeHead(206, { 'content-length': b - a + 1, 'content-range': `bytes ${a}-${b}/${data.length}` }).end(data.subarray(a, b + 1));
    } else {
      sendParts(res, data, ranges);
    }
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `bytes=a-b[,c-d…]` within the blob; undefined for none or anything else (answered in full). */
function parseRanges(header: string | undefined, size: number): [number, number][] | undefined {
  const m = /^bytes=(.+)$/.exec(header ?? '');
  if (!m) return undefined;
  const out: [number, number][] = [];
  for (const part of m[1]!.split(',')) {
    const r = /^\s*(\d+)-(\d+)\s*$/.exec(part);
    if (!r) return undefined;
    const a = Number(r[1]);
    const b = Math.min(Number(r[2]), size - 1);
    if (a > b) return undefined;
    out.push([a, b]);
  }
  return out;
}

function sendParts(res: ServerResponse, data: Buffer, ranges: [number, number][]): void {
  const boundary = 'warm-up-boundary';
  const pieces: Buffer[] = [];
  for (const [a, b] of ranges) {
    pieces.push(Buffer.from(`\r\n--${boundary}\r\ncontent-type: application/octet-stream\r\ncontent-range: bytes ${a}-${b}/${data.length}\r\n\r\n`));
    pieces.push(data.subarray(a, b + 1));
  }
  pieces.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const body = Buffer.concat(pieces);
  res.writeHead(206, { 'content-type': `multipart/byteranges; boundary=${boundary}`, 'content-length': body.length }).end(body);
}
