/**
 * The hosts directories merged with `registry.hosts`: the directory's pull mirrors first,
 * then the config's (deduplicated), then the upstream (`server`, else the host; left out
 * when it cannot pull); an explicit `registry.hosts[host]` wins for that host's endpoint.
 * And a real read: a blob of an unresolvable host served through a hosts.toml mirror, with
 * its path and header, the header never sent across a redirect.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryHosts } from '../../../../../backends/stargz-lazy/registry/hosts.js';
import { readHostsDirs } from '../../../../../backends/stargz-lazy/registry/hosts-dirs.js';
import { registryOptions } from '../../../../../backends/stargz-lazy/registry/options.js';
import { serveBlob } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { listen, type TestServer } from './servers/listen.js';
import { testClient, testData } from './servers/test-client.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hosts-merge-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function dirWith(files: Record<string, string>): Promise<string> {
  const d = await mkdtemp(join(tmp, 'd-'));
  for (const [host, text] of Object.entries(files)) {
    await mkdir(join(d, host), { recursive: true });
    await writeFile(join(d, host, 'hosts.toml'), text);
  }
  return d;
}

const summary = (hosts: RegistryHosts, host: string) => hosts.resolve(host).map((e) => `${e.role} ${e.origin}${e.path}`);

describe('RegistryHosts with hosts directories', () => {
  it('puts the directory mirrors first, then the config ones, then the upstream', async () => {
    const d = await dirWith({
      'reg.example': `
[host."http://m1.lan:5000"]
  capabilities = ["pull", "resolve"]
[host."https://resolver.lan"]
  capabilities = ["resolve"]
[host."https://m2.lan/cache"]
`,
    });
    const options = registryOptions.parse({ hostsDirs: [d], hosts: { 'reg.example': { mirrors: [{ host: 'm3.lan' }, { host: 'm1.lan:5000', plainHttp: true }] } } });
    const hosts = new RegistryHosts(options, readHostsDirs(options.hostsDirs));
    expect(summary(hosts, 'reg.example')).toEqual([
      'mirror http://m1.lan:5000/v2',
      'mirror https://m2.lan/cache/v2',
      'mirror https://m3.lan/v2',
      'upstream https://reg.example/v2',
    ]);
    expect(hosts.resolve('reg.example')[0]?.source).toBe(join(d, 'reg.example'));
  });

  it('uses the server of the file as upstream, or none when it cannot pull', async () => {
    const d = await dirWith({
      'docker.io': 'server = "https://registry-1.docker.io"\n[host."http://127.0.0.1:5001"]',
      'push-only.example': 'server = "https://push.example"\ncapabilities = ["push"]\n[host."https://pull.example"]',
      _default: '[host."http://everyone-mirror:81"]',
    });
    const hosts = new RegistryHosts(registryOptions.parse({ hostsDirs: [d] }), readHostsDirs([d]));
    expect(summary(hosts, 'docker.io')).toEqual(['mirror http://127.0.0.1:5001/v2', 'upstream https://registry-1.docker.io/v2']);
    expect(summary(hosts, 'push-only.example')).toEqual(['mirror https://pull.example/v2']);
    expect(summary(hosts, 'any.example')).toEqual(['mirror http://everyone-mirror:81/v2', 'upstream https://any.example/v2']);
    // A loopback host without server stays plain HTTP, as containerd.
    expect(summary(hosts, '127.0.0.1:5000')).toEqual(['mirror http://everyone-mirror:81/v2', 'upstream http://127.0.0.1:5000/v2']);
  });

  it('lets an explicit registry.hosts entry win for its host', async () => {
    const d = await dirWith({ 'reg.example': 'server = "https://reg.example:8443"\n[host."https://m.lan"]' });
    const options = registryOptions.parse({
      hostsDirs: [d],
      hosts: { 'reg.example:8443': { plainHttp: true, timeouts: { connectMs: 7 } }, 'm.lan': { plainHttp: true } },
    });
    const hosts = new RegistryHosts(options, readHostsDirs([d]));
    const eps = hosts.resolve('reg.example');
    expect(eps.map((e) => e.origin)).toEqual(['http://m.lan', 'http://reg.example:8443']);
    expect(eps[1]?.timeouts.connectMs).toBe(7);
  });

  it('[] turns the directories off', async () => {
    const d = await dirWith({ _default: '[host."http://m:1"]' });
    const options = registryOptions.parse({ hostsDirs: [] });
    expect(options.hostsDirs).toEqual([]);
    expect(registryOptions.parse({}).hostsDirs).toEqual(['/etc/containerd/certs.d', '/etc/docker/certs.d']);
    expect(registryOptions.safeParse({ hostsDirs: ['relative/dir'] }).success).toBe(false);
    expect(summary(new RegistryHosts(options, readHostsDirs(options.hostsDirs)), 'x.example')).toEqual(['upstream https://x.example/v2']);
    expect(d).toBeTruthy();
  });
});

describe('reads through a hosts.toml mirror', () => {
  const data = testData(50_000, 9);
  const digest = sha256(data);
  let mirror: TestServer;
  let storage: TestServer;
  const seen: { url: string; token: string | undefined }[] = [];

  beforeAll(async () => {
    storage = await listen((req, res) => {
      seen.push({ url: `storage ${req.url}`, token: req.headers['x-mirror-token'] as string | undefined });
      serveBlob(req, res, data);
    });
    mirror = await listen((req, res) => {
      seen.push({ url: req.url ?? '', token: req.headers['x-mirror-token'] as string | undefined });
      if (req.url === `/cache/v2/app/blobs/${digest}` && req.headers['x-mirror-token'] === 'abc') {
        res.writeHead(307, { location: `${storage.origin}/blob` });
        res.end();
        return;
      }
      res.writeHead(404).end();
    });
  });
  afterAll(async () => {
    await mirror.close();
    await storage.close();
  });

  it('a blob of a host that does not resolve is read from the mirror, with the path and header', async () => {
    const d = await dirWith({ 'mirror-only.invalid': `[host."http://${mirror.host}/cache"]\n  capabilities = ["pull"]\n  [host."http://${mirror.host}/cache".header]\n    x-mirror-token = "abc"\n` });
    const { client, blob, logs } = testClient({ hostsDirs: [d], retry: { retries: 0 } });
    try {
      const got = await blob('mirror-only.invalid/app:1', digest).readRange(100, 1000);
      expect(got.equals(data.subarray(100, 1100))).toBe(true);
      expect(seen[0]).toEqual({ url: `/cache/v2/app/blobs/${digest}`, token: 'abc' });
      // The header is the mirror's: not sent to the storage it redirected to.
      expect(seen.filter((s) => s.url.startsWith('storage')).every((s) => s.token === undefined)).toBe(true);
      expect(JSON.stringify(logs)).not.toContain('abc"');
    } finally {
      await client.close();
    }
  });
});
