/** `readTail`: size and tail in one suffix-range request, and the fallbacks when a server does not do suffix ranges. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../../../../core/sdk.js';
import { serveBlob, startBlobServer, type BlobServer } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { testClient, testData, type TestClient } from './servers/test-client.js';

const data = testData(100_000, 7);
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

/** Answers suffix ranges as RFC 9110 says (206, the last N bytes, the total in Content-Range). */
function suffixAware(req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=-(\d+)$/.exec(req.headers.range ?? '');
  if (!m || req.method !== 'GET') return serveBlob(req, res, data);
  const n = Math.min(Number(m[1]), data.length);
  res.writeHead(206, { 'content-length': n, 'content-range': `bytes ${data.length - n}-${data.length - 1}/${data.length}` });
  res.end(data.subarray(data.length - n));
}

describe('BlobReader.readTail', () => {
  it('takes size and tail from one suffix-range GET', async () => {
    const { server, t } = await setup(suffixAware);
    const blob = t.blob(`${server.host}/x`, digest);
    const tail = await blob.readTail(4096);
    expect(tail.size).toBe(data.length);
    expect(tail.data.equals(data.subarray(data.length - 4096))).toBe(true);
    expect(server.requests.map((r) => [r.method, r.range])).toEqual([['GET', 'bytes=-4096']]);
    // The size is known now: later reads check against it without asking.
    expect(await blob.size()).toBe(data.length);
    expect(server.requests).toHaveLength(1);
  });

  it('returns the whole blob when it is shorter than asked', async () => {
    const { server, t } = await setup(suffixAware);
    const tail = await t.blob(`${server.host}/x`, digest).readTail(1 << 20);
    expect(tail.size).toBe(data.length);
    expect(tail.data.equals(data)).toBe(true);
  });

  it('takes a 200 with the whole blob as the tail when the blob is no longer than asked (one request)', async () => {
    const { server, t } = await setup((req, res) =>
      req.headers.range?.startsWith('bytes=-') ? res.writeHead(200, { 'content-length': data.length }).end(data) : serveBlob(req, res, data),
    );
    const blob = t.blob(`${server.host}/x`, digest);
    const tail = await blob.readTail(1 << 20);
    expect(tail.size).toBe(data.length);
    expect(tail.data.equals(data)).toBe(true);
    expect(server.requests.map((r) => [r.method, r.range])).toEqual([['GET', 'bytes=-1048576']]);
    expect(await blob.size()).toBe(data.length);
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['ignores suffix ranges (200, the whole blob)', (req: IncomingMessage, res: ServerResponse) => (req.headers.range?.startsWith('bytes=-') ? res.writeHead(200, { 'content-length': data.length }).end(data) : serveBlob(req, res, data))],
    ['misreads them (206 of the wrong bytes)', (req: IncomingMessage, res: ServerResponse) => serveBlob(req, res, data)], // its parser reads "-1000" as "0-1000"
  ])('falls back to HEAD and a range when the server %s', async (_what, handler) => {
    const { server, t } = await setup(handler);
    const tail = await t.blob(`${server.host}/x`, digest).readTail(1000);
    expect(tail.size).toBe(data.length);
    expect(tail.data.equals(data.subarray(data.length - 1000))).toBe(true);
    expect(server.requests.map((r) => [r.method, r.range])).toEqual([
      ['GET', 'bytes=-1000'],
      ['HEAD', undefined],
      ['GET', `bytes=${data.length - 1000}-${data.length - 1}`],
    ]);
  });

  it('answers NOT_FOUND for a missing blob and validates its argument', async () => {
    const { server, t } = await setup((req, res) => {
      res.writeHead(404).end();
    });
    const blob = t.blob(`${server.host}/x`, digest);
    await expect(blob.readTail(10)).rejects.toBeInstanceOf(NotFoundError);
    await expect(blob.readTail(0)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
