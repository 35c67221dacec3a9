/** Retries, timeouts, aborts and error statuses against small node:http servers on 127.0.0.1. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../../core/sdk.js';
import type { RegistryOptionsInput } from '../../../../../backends/stargz-lazy/registry/options.js';
import { RegistryStatusError } from '../../../../../backends/stargz-lazy/registry/registry-errors.js';
import { serveBlob, startBlobServer, type BlobServer } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { testClient, testData, type TestClient } from './servers/test-client.js';

const data = testData(100_000, 5);
const digest = sha256(data);
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
  options: RegistryOptionsInput = {},
): Promise<{ server: BlobServer; t: TestClient }> {
  const server = await startBlobServer(handler);
  cleanup.push(() => server.close());
  const t = testClient(options);
  cleanup.push(() => t.client.close());
  return { server, t };
}

const hang = () => undefined; // accept the request, never answer

describe('retries', () => {
  it('retries 503 with backoff, then succeeds', async () => {
    const { server, t } = await setup((req, res, n) => (n <= 2 ? void res.writeHead(503).end('busy') : serveBlob(req, res, data)));
    const out = await t.blob(`${server.host}/x`, digest).readRange(10, 10);
    expect(out.equals(data.subarray(10, 20))).toBe(true);
    expect(server.requests).toHaveLength(3);
    const retries = t.logs.filter((l) => l.msg === 'registry request failed; retrying');
    expect(retries.map((l) => l.attempt)).toEqual([1, 2]);
    expect(String(retries[0]!.reason)).toContain('HTTP 503');
  });

  it('honours Retry-After on 429 (capped by maxDelayMs)', async () => {
    const { server, t } = await setup((req, res, n) =>
      n === 1 ? void res.writeHead(429, { 'retry-after': '1' }).end() : serveBlob(req, res, data),
    );
    const started = Date.now();
    await t.blob(`${server.host}/x`, digest).readRange(0, 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45); // maxDelayMs 50 in testClient
    expect(server.requests).toHaveLength(2);
  });

  it('gives up after the retry count with UnavailableError naming host, digest and status', async () => {
    const { server, t } = await setup((_req, res) => void res.writeHead(502).end());
    const err = await t.blob(`${server.host}/x`, digest).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`blob ${digest} of ${server.host}/x .*: HTTP 502$`));
    expect(server.requests).toHaveLength(4); // 1 + retries: 3
  });

  it('retries a connection dropped in the middle of the body', async () => {
    const { server, t } = await setup((req, res, n) => {
      if (n > 1) return serveBlob(req, res, data);
      res.writeHead(206, { 'content-range': `bytes 0-49999/${data.length}`, 'content-length': 50_000 });
      res.write(data.subarray(0, 1000), () => res.socket?.destroy());
    });
    const out = await t.blob(`${server.host}/x`, digest).readRange(0, 50_000);
    expect(out.equals(data.subarray(0, 50_000))).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('does not retry 4xx: 400 and 403 are RegistryStatusErrors with the status', async () => {
    for (const status of [400, 403]) {
      const { server, t } = await setup((_req, res) => void res.writeHead(status).end());
      const err = await t.blob(`${server.host}/x`, digest).readRange(0, 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryStatusError);
      expect((err as RegistryStatusError).status).toBe(status);
      expect((err as Error).message).toMatch(status === 403 ? /access denied \(HTTP 403\)/ : /unexpected HTTP 400/);
      expect(server.requests).toHaveLength(1);
    }
  });
});

describe('timeouts and aborts', () => {
  it('times out a server that never answers (headers timeout), bounded by the retries', async () => {
    const { server, t } = await setup(hang, { timeouts: { headersMs: 150 }, retry: { retries: 1 } });
    const started = Date.now();
    const err = await t.blob(`${server.host}/x`, digest).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(server.host);
    expect((err as Error).message).toContain(digest);
    expect((err as Error).message).toMatch(/headers timeout/);
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(4000); // undici checks these timeouts with a ~0.5 s timer wheel
  });

  it('times out a body that stalls, and retries', async () => {
    const { server, t } = await setup(
      (req, res, n) => {
        if (n > 1) return serveBlob(req, res, data);
        res.writeHead(206, { 'content-range': `bytes 0-9999/${data.length}`, 'content-length': 10_000 });
        res.write(data.subarray(0, 100));
      },
      { timeouts: { bodyMs: 150 } },
    );
    const out = await t.blob(`${server.host}/x`, digest).readRange(0, 10_000);
    expect(out.equals(data.subarray(0, 10_000))).toBe(true);
    expect(String(t.logs.find((l) => l.msg === 'registry request failed; retrying')?.reason)).toMatch(/body timeout/);
  });

  it('never holds a reader longer than retry.totalMs', async () => {
    const { server, t } = await setup(hang, { timeouts: { headersMs: 60_000 }, retry: { retries: 10, totalMs: 300 } });
    const started = Date.now();
    const err = await t.blob(`${server.host}/x`, digest).readRange(0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/gave up after 300 ms \(1 attempt\); no answer$/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('rejects with the AbortSignal reason as soon as it aborts', async () => {
    const { server, t } = await setup(hang, { timeouts: { headersMs: 60_000 } });
    const controller = new AbortController();
    const reason = new Error('container stopped');
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();
    await expect(t.blob(`${server.host}/x`, digest).readRanges([{ offset: 0, length: 1 }], controller.signal)).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(server.requests).toHaveLength(1);
  });
});
