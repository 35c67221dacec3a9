/** Range handling against servers that answer multi-range requests in every legal (and some illegal) way. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../../core/sdk.js';
import {
  parseRangeHeader,
  sendFull,
  sendMultipart,
  sendRange,
  serveBlob,
  startBlobServer,
  type BlobServer,
} from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { testClient, testData, type TestClient } from './servers/test-client.js';

const data = testData(200_000, 3);
const digest = sha256(data);
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ server: BlobServer; t: TestClient }> {
  const server = await startBlobServer(handler);
  cleanup.push(() => server.close());
  const t = testClient();
  cleanup.push(() => t.client.close());
  return { server, t };
}

const ranges = [
  { offset: 150_000, length: 3000 },
  { offset: 0, length: 10 },
  { offset: 70_000, length: 1 },
  { offset: 199_990, length: 10 },
];
const expectData = (out: Buffer[]) =>
  ranges.forEach((r, i) => expect(out[i]!.equals(data.subarray(r.offset, r.offset + r.length)), `range ${i}`).toBe(true));

describe('multi-range fallbacks', () => {
  it('falls back to single ranges when multi-range gets the full body, and remembers it', async () => {
    const { server, t } = await setup((req, res) => {
      const r = parseRangeHeader(req.headers.range);
      if (r && r.length > 1) return sendFull(res, data);
      serveBlob(req, res, data);
    });
    const reader = t.blob(`${server.host}/x`, digest);
    expectData(await reader.readRanges(ranges));
    expect(t.client.supportsMultiRange(reader.locations[0]!)).toBe(false);
    expect(t.logs.some((l) => l.msg === 'registry does not serve multi-range requests; using single ranges')).toBe(true);
    const before = server.requests.length;
    expectData(await t.blob(`${server.host}/x`, digest).readRanges(ranges));
    expect(server.requests.slice(before).map((r) => r.ranges?.length)).toEqual([1, 1, 1, 1]);
  });

  it('cuts the slice out of the stream when the server ignores Range altogether', async () => {
    const { server, t } = await setup((req, res) => (req.method === 'HEAD' ? serveBlob(req, res, data) : sendFull(res, data)));
    const reader = t.blob(`${server.host}/x`, digest);
    expect((await reader.readRange(123_456, 789)).equals(data.subarray(123_456, 123_456 + 789))).toBe(true);
    expectData(await reader.readRanges(ranges));
    expect(await reader.size()).toBe(data.length);
  });

  it('uses what a server sent when it answers only the first range, fetches the rest', async () => {
    const { server, t } = await setup((req, res) => {
      const r = parseRangeHeader(req.headers.range);
      if (r && r.length > 1) return sendRange(res, data, r[0]!);
      serveBlob(req, res, data);
    });
    const reader = t.blob(`${server.host}/x`, digest);
    expectData(await reader.readRanges(ranges));
    expect(server.requests.map((r) => r.ranges?.length)).toEqual([4, 1, 1, 1]);
    expect(t.client.supportsMultiRange(reader.locations[0]!)).toBe(false);
  });

  it('accepts a server that coalesces all ranges into one', async () => {
    const { server, t } = await setup((req, res) => {
      const r = parseRangeHeader(req.headers.range)!;
      sendRange(res, data, [Math.min(...r.map((x) => x[0])), Math.max(...r.map((x) => x[1]))]);
    });
    const reader = t.blob(`${server.host}/x`, digest);
    expectData(await reader.readRanges(ranges));
    expect(server.requests).toHaveLength(1);
    expect(t.client.supportsMultiRange(reader.locations[0]!)).toBe(true);
  });

  it('parses multipart answers with LF line ends, a preamble and a quoted boundary', async () => {
    const { server, t } = await setup((req, res) =>
      sendMultipart(res, data, parseRangeHeader(req.headers.range)!, { lf: true, preamble: 'hello', boundary: 'b:/?x' }),
    );
    expectData(await t.blob(`${server.host}/x`, digest).readRanges(ranges));
    expect(server.requests).toHaveLength(1);
  });

  it('learns the size from a one-byte range when HEAD is not allowed', async () => {
    const { server, t } = await setup((req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(405).end();
      serveBlob(req, res, data);
    });
    expect(await t.blob(`${server.host}/x`, digest).size()).toBe(data.length);
    expect(server.requests.map((r) => [r.method, r.range])).toEqual([
      ['HEAD', undefined],
      ['GET', 'bytes=0-0'],
    ]);
  });
});

describe('answers that are rejected', () => {
  const rejects = async (handler: (req: IncomingMessage, res: ServerResponse) => void, read: (t: TestClient, host: string) => Promise<unknown>, why: RegExp) => {
    const { server, t } = await setup(handler);
    const err = await read(t, server.host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(digest);
    expect((err as Error).message).toContain(server.host);
    expect((err as Error).message).toMatch(why);
    expect(server.requests).toHaveLength(1); // a lying server is not asked again
  };

  it('a Content-Range other than the one asked for', () =>
    rejects(
      (_req, res) => sendRange(res, data, [100, 199]),
      (t, host) => t.blob(`${host}/x`, digest).readRange(0, 100),
      /bad response: asked for bytes 0-99, got Content-Range "bytes 100-199\/200000"/,
    ));

  it('a 206 without Content-Range', () =>
    rejects(
      (_req, res) => void res.writeHead(206, { 'content-length': 10 }).end(data.subarray(0, 10)),
      (t, host) => t.blob(`${host}/x`, digest).readRange(0, 10),
      /got Content-Range null/,
    ));

  it('a body longer than its Content-Range', () =>
    rejects(
      (_req, res) => void res.writeHead(206, { 'content-range': `bytes 0-9/${data.length}`, 'content-length': 20 }).end(data.subarray(0, 20)),
      (t, host) => t.blob(`${host}/x`, digest).readRange(0, 10),
      /body is longer than the 10 bytes/,
    ));

  it('a multipart part outside what was asked', () =>
    rejects(
      (_req, res) => sendMultipart(res, data, [[0, 9], [500, 509]]),
      (t, host) => t.blob(`${host}/x`, digest).readRanges([{ offset: 0, length: 10 }, { offset: 100, length: 10 }]),
      /got a part with bytes 500-509/,
    ));

  it('a malformed multipart body', () =>
    rejects(
      (_req, res) => void res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=X' }).end('--X\r\nContent-Range: nonsense\r\n\r\nzz'),
      (t, host) => t.blob(`${host}/x`, digest).readRanges([{ offset: 0, length: 10 }, { offset: 100, length: 10 }]),
      /multipart\/byteranges: part without a valid Content-Range/,
    ));

  it('a Docker-Content-Digest that is not the blob asked for', () =>
    rejects(
      (_req, res) => void res.writeHead(200, { 'content-length': 5, 'docker-content-digest': `sha256:${'f'.repeat(64)}` }).end(),
      (t, host) => t.blob(`${host}/x`, digest).size(),
      /Docker-Content-Digest is sha256:f+/,
    ));

  it('a blob whose size changes between answers', async () => {
    const { server, t } = await setup((req, res, n) => {
      if (n === 1) return serveBlob(req, res, data);
      res.writeHead(206, { 'content-range': `bytes 0-9/${data.length + 1}`, 'content-length': 10 }).end(data.subarray(0, 10));
    });
    const reader = t.blob(`${server.host}/x`, digest);
    await reader.size();
    await expect(reader.readRange(0, 10)).rejects.toThrow(/blob size 200001 differs from 200000/);
  });
});
