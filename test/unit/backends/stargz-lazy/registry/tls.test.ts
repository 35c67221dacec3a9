/**
 * TLS to a registry host with its own CA and client certificates (`hosts[h].ca`, `certFile`,
 * `keyFile`), against a node:https server on 127.0.0.1 with an openssl-made PKI; files are
 * checked when the client is built.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnavailableError } from '../../../../../core/sdk.js';
import { RegistryClient } from '../../../../../backends/stargz-lazy/registry/registry-client.js';
import type { RegistryOptionsInput } from '../../../../../backends/stargz-lazy/registry/options.js';
import { serveBlob } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { makeTestPki, type TestPki } from './servers/test-pki.js';
import { testClient, testData } from './servers/test-client.js';

const data = testData(100_000, 3);
const digest = sha256(data);
let pki: TestPki;
let server: Server;
let host: string;
let clientCertSeen: string[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  server = createServer(
    {
      cert: await pki.read(pki.serverCertFile),
      key: await pki.read(pki.serverKeyFile),
      ca: await pki.read(pki.caFile),
      requestCert: true,
      rejectUnauthorized: false, // checked per request below, so that both cases answer
    },
    (req, res) => {
      const sock = req.socket as import('node:tls').TLSSocket;
      const peer = sock.getPeerCertificate();
      if (peer?.subject) clientCertSeen.push(String(peer.subject.CN));
      if (req.url?.startsWith('/v2/mtls/') && !sock.authorized) return void res.writeHead(403).end('client certificate required');
      serveBlob(req, res, data);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await pki?.remove();
});

async function read(options: RegistryOptionsInput, repo = 'team/app'): Promise<Buffer> {
  const t = testClient({ ...options, retry: { retries: 0 } });
  try {
    return await t.blob(`${host}/${repo}`, digest).readRange(0, 1000);
  } finally {
    await t.client.close();
  }
}

describe('custom CAs', () => {
  it('speaks HTTPS to a loopback host that has a CA configured, trusting it', async () => {
    clientCertSeen = [];
    expect((await read({ hosts: { [host]: { ca: [pki.caFile] } } })).equals(data.subarray(0, 1000))).toBe(true);
    expect(clientCertSeen).toEqual([]);
  });

  it('refuses a server whose certificate the configured CA did not sign', async () => {
    const err = await read({ hosts: { [host]: { ca: [pki.otherCaFile] } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/certificate/i);
  });

  it('sends the client certificate to a host that requires one', async () => {
    clientCertSeen = [];
    const opts = { hosts: { [host]: { ca: [pki.caFile], certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } } };
    expect((await read(opts, 'mtls/app')).equals(data.subarray(0, 1000))).toBe(true);
    expect(clientCertSeen).toContain('client');
    clientCertSeen = [];
    const without = await read({ hosts: { [host]: { ca: [pki.caFile] } } }, 'mtls/app').catch((e: unknown) => e);
    expect((without as Error).message).toMatch(/access denied \(HTTP 403\)/);
  });
});

describe('TLS files are checked at start', () => {
  const make = (hostOpts: Record<string, unknown>) => () => new RegistryClient({ hosts: { 'r.example': hostOpts } }, { log: pino({ level: 'silent' }) });

  it('names the option of a missing or invalid file', async () => {
    expect(make({ ca: ['/nonexistent/ca.pem'] })).toThrow(InvalidArgumentError);
    expect(make({ ca: ['/nonexistent/ca.pem'] })).toThrow('registry.hosts["r.example"].ca[0]: cannot read /nonexistent/ca.pem: ENOENT');
    const junk = join(pki.dir, 'junk.pem');
    await writeFile(junk, 'not a certificate\n');
    expect(make({ ca: [pki.caFile, junk] })).toThrow(`registry.hosts["r.example"].ca[1]: ${junk} holds no PEM certificate`);
    const broken = join(pki.dir, 'broken.pem');
    await writeFile(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(make({ ca: [broken] })).toThrow(`registry.hosts["r.example"].ca[0]: ${broken} holds an invalid certificate`);
    expect(make({ certFile: pki.clientCertFile, keyFile: pki.serverKeyFile })).toThrow(
      /registry\.hosts\["r\.example"\]: client certificate .* and key .* are not usable together/,
    );
  });

  it('rejects relative paths and a certificate without its key in the options', () => {
    expect(make({ ca: ['ca.pem'] })).toThrow(/hosts\.r\.example\.ca\.0: expected an absolute file path/);
    expect(make({ certFile: pki.clientCertFile })).toThrow(/hosts\.r\.example\.keyFile: certFile and keyFile go together/);
  });
});
