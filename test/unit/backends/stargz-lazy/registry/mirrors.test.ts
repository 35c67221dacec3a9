/**
 * Mirrors: tried in the configured order before the registry itself; a mirror that answers
 * 404 or 5xx, or cannot be reached, is passed over; the endpoint that served is logged;
 * credentials are the mirror host's own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { staticCredentials } from '../../../../../backends/stargz-lazy/registry/credentials.js';
import { startAuthProxy } from './servers/auth-proxy.js';
import { serveBlob, startBlobServer, type BlobServer } from './servers/blob-server.js';
import { sha256, startDockerRegistry } from './servers/docker-registry.js';
import { closedPort } from './servers/listen.js';
import { testClient, testData } from './servers/test-client.js';

const data = testData(200_000, 5);
const digest = sha256(data);
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(handler: Parameters<typeof startBlobServer>[0]): Promise<BlobServer> {
  const s = await startBlobServer(handler);
  cleanup.push(() => s.close());
  return s;
}

const blobPath = `/v2/team/app/blobs/${digest}`;
const serving = () => server((req, res) => (req.url === blobPath ? serveBlob(req, res, data) : void res.writeHead(404).end()));
const servedLogs = (logs: Record<string, unknown>[]) => logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('blob served by'));

describe('mirrors', () => {
  it('passes over a mirror that answers 404, one that answers 503 and one that is down, then reads from the registry', async () => {
    const upstream = await serving();
    const missing = await server((_req, res) => void res.writeHead(404).end());
    const broken = await server((_req, res) => void res.writeHead(503).end());
    const down = `127.0.0.1:${await closedPort()}`;
    const t = testClient({
      hosts: { [upstream.host]: { mirrors: [{ host: missing.host }, { host: broken.host }, { host: down }] } },
      retry: { retries: 1 },
    });
    cleanup.push(() => t.client.close());
    const reader = t.blob(`${upstream.host}/team/app`, digest);
    expect((await reader.readRange(1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true);
    expect(missing.requests.length).toBeGreaterThan(0);
    expect(broken.requests.length).toBe(2); // the first attempt and one retry
    expect(servedLogs(t.logs).map((l) => [l.role, l.endpoint, l.passedOver])).toEqual([['upstream', upstream.origin, 3]]);
    // The reader keeps to the endpoint that worked.
    const before = missing.requests.length + broken.requests.length;
    expect((await reader.readRange(0, 10)).equals(data.subarray(0, 10))).toBe(true);
    expect(missing.requests.length + broken.requests.length).toBe(before);
  });

  it('reads from the first mirror that has the blob and leaves the registry alone', async () => {
    const upstream = await serving();
    const missing = await server((_req, res) => void res.writeHead(404).end());
    const mirror = await serving();
    const t = testClient({ hosts: { [upstream.host]: { mirrors: [{ host: missing.host }, { host: mirror.host }] } } });
    cleanup.push(() => t.client.close());
    const got = await t.blob(`${upstream.host}/team/app`, digest).readRanges([{ offset: 0, length: 100 }, { offset: 150_000, length: 100 }]);
    expect(got[0]!.equals(data.subarray(0, 100)) && got[1]!.equals(data.subarray(150_000, 150_100))).toBe(true);
    expect(upstream.requests).toHaveLength(0);
    expect(servedLogs(t.logs).map((l) => [l.role, l.endpoint])).toEqual([['mirror', mirror.origin]]);
  });

  it("authorizes at a mirror with the mirror host's own credentials", async () => {
    const registry = await startDockerRegistry();
    cleanup.push(() => registry.stop());
    const pushed = await registry.pushBlob('team/app', data);
    const mirror = await startAuthProxy({ upstream: registry.origin, scheme: 'bearer', credentials: { username: 'm', password: 'mirror-pw' } });
    cleanup.push(() => mirror.close());
    const upstream = await server((_req, res) => void res.writeHead(500).end());
    const t = testClient(
      { hosts: { [upstream.host]: { mirrors: [{ host: mirror.host }] } } },
      staticCredentials({ [mirror.host]: { username: 'm', password: 'mirror-pw' } }),
    );
    cleanup.push(() => t.client.close());
    expect((await t.blob(`${upstream.host}/team/app`, pushed).readRange(10, 10)).equals(data.subarray(10, 20))).toBe(true);
    expect(mirror.tokenRequests[0]!.authorization).toBe(`Basic ${Buffer.from('m:mirror-pw').toString('base64')}`);
    expect(upstream.requests).toHaveLength(0);
  }, 30_000);
});
