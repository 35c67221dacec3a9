/**
 * The reachability probe against real HTTP servers on 127.0.0.1: one HEAD, no retries, bounded;
 * the reason names the registry host and what went wrong; a direct URL is tried after the registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeBlob } from '../../../../../backends/stargz-lazy/registry/probe-blob.js';
import { parseReference } from '../../../../../backends/stargz-lazy/registry/reference.js';
import { serveBlob, startBlobServer, type BlobServer } from './servers/blob-server.js';
import { closedPort } from './servers/listen.js';
import { testClient, testData } from './servers/test-client.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const data = testData(1000);
let ok: BlobServer;
let missing: BlobServer;
let hung: BlobServer;
const held: { destroy(): void }[] = [];

beforeAll(async () => {
  ok = await startBlobServer((req, res) => serveBlob(req, res, data));
  missing = await startBlobServer((_req, res) => void res.writeHead(404).end());
  hung = await startBlobServer((_req, res) => void held.push(res));
});

afterAll(async () => {
  for (const r of held) r.destroy();
  await Promise.all([ok?.close(), missing?.close(), hung?.close()]);
});

const ref = (host: string) => parseReference(`${host}/app/image:tag`, 'test');

describe('probeBlob', () => {
  it('reachable: one HEAD of the blob, nothing else', async () => {
    const { client } = testClient();
    const before = ok.requests.length;
    expect(await probeBlob(client, ref(ok.host), { digest: DIGEST, urls: [] }, { timeoutMs: 2_000 })).toEqual({ reachable: true });
    expect(ok.requests.slice(before)).toMatchObject([{ method: 'HEAD', path: `/v2/app/image/blobs/${DIGEST}` }]);
    await client.close();
  });

  it('a registry that refuses connections: unreachable, naming the host and the errno, at once and without retries', async () => {
    const { client } = testClient();
    const host = `127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    const r = await probeBlob(client, ref(host), { digest: DIGEST, urls: [] }, { timeoutMs: 2_000 });
    expect(r).toMatchObject({ reachable: false, answered: false });
    expect(r.reachable === false && r.reason).toMatch(new RegExp(`^registry ${host.replace(/\./g, '\\.')} unreachable: .*ECONNREFUSED`));
    expect(Date.now() - started).toBeLessThan(1_000);
    await client.close();
  });

  it('a registry that answers 404: not reachable, but the host answered', async () => {
    const { client } = testClient();
    const r = await probeBlob(client, ref(missing.host), { digest: DIGEST, urls: [] }, { timeoutMs: 2_000 });
    expect(r).toEqual({ reachable: false, answered: true, reason: `registry ${missing.host} answered HTTP 404 for blob ${DIGEST}` });
    await client.close();
  });

  it('a registry that never answers: unreachable within the bound', async () => {
    const { client } = testClient();
    const started = Date.now();
    const r = await probeBlob(client, ref(hung.host), { digest: DIGEST, urls: [] }, { timeoutMs: 500 });
    expect(r).toEqual({ reachable: false, answered: false, reason: `registry ${hung.host} unreachable: no answer within 500 ms` });
    expect(Date.now() - started).toBeLessThan(1_500);
    await client.close();
  });

  it('the registry down but the layer URL serving it: reachable', async () => {
    const { client } = testClient();
    const host = `127.0.0.1:${await closedPort()}`;
    const r = await probeBlob(client, ref(host), { digest: DIGEST, urls: [`${ok.origin}/foreign/layer`] }, { timeoutMs: 2_000 });
    expect(r).toEqual({ reachable: true });
    await client.close();
  });

  it("the caller's abort rejects with its reason", async () => {
    const { client } = testClient();
    const ac = new AbortController();
    const p = probeBlob(client, ref(hung.host), { digest: DIGEST, urls: [] }, { timeoutMs: 5_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('caller gone')), 50);
    await expect(p).rejects.toThrow('caller gone');
    await client.close();
  });
});
