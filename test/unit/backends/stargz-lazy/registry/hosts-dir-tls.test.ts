/**
 * TLS settings from a hosts.toml, against a node:https mirror with an openssl-made PKI: its
 * `ca` (relative to the file's directory) is trusted, `client` pairs are sent, `skip_verify`
 * accepts an unknown CA; without them the handshake is refused. The image's own host does not
 * resolve: the mirror is the only way to the blob.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../../core/sdk.js';
import { serveBlob } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { makeTestPki, type TestPki } from './servers/test-pki.js';
import { testClient, testData } from './servers/test-client.js';

const data = testData(30_000, 5);
const digest = sha256(data);
let pki: TestPki;
let server: Server;
let mirror: string;
let tmp: string;
let clientCertSeen: string[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  tmp = await mkdtemp(join(tmpdir(), 'hosts-dir-tls-'));
  server = createServer(
    { cert: await pki.read(pki.serverCertFile), key: await pki.read(pki.serverKeyFile), ca: await pki.read(pki.caFile), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const sock = req.socket as import('node:tls').TLSSocket;
      const peer = sock.getPeerCertificate();
      if (peer?.subject && sock.authorized) clientCertSeen.push(String(peer.subject.CN));
      serveBlob(req, res, data);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror = `127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await pki?.remove();
  await rm(tmp, { recursive: true, force: true });
});

async function readWith(name: string, toml: string, files: Record<string, string> = {}): Promise<Buffer> {
  const dir = join(tmp, name);
  await mkdir(join(dir, 'tls.invalid'), { recursive: true });
  for (const [to, from] of Object.entries(files)) await copyFile(from, join(dir, 'tls.invalid', to));
  await writeFile(join(dir, 'tls.invalid', 'hosts.toml'), toml);
  const t = testClient({ hostsDirs: [dir], retry: { retries: 0 } });
  try {
    return await t.blob('tls.invalid/team/app', digest).readRange(0, 1000);
  } finally {
    await t.client.close();
  }
}

describe('TLS from a hosts.toml', () => {
  it('trusts the ca next to the file and sends the client pair', async () => {
    clientCertSeen = [];
    const got = await readWith('ca', `[host."https://${mirror}"]\n  ca = "ca.pem"\n  client = [["c.pem", "c.key"]]\n`, {
      'ca.pem': pki.caFile,
      'c.pem': pki.clientCertFile,
      'c.key': pki.clientKeyFile,
    });
    expect(got.equals(data.subarray(0, 1000))).toBe(true);
    expect(clientCertSeen.length).toBeGreaterThan(0);
  });

  it('refuses the mirror without its CA, and accepts it with skip_verify', async () => {
    const err = await readWith('no-ca', `[host."https://${mirror}"]\n`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((await readWith('skip', `[host."https://${mirror}"]\n  skip_verify = true\n`)).equals(data.subarray(0, 1000))).toBe(true);
  });
});
