import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { RegistryClient } from '../../../../../backends/stargz-lazy/registry/registry-client.js';
import { RegistryHosts, isLoopbackHost } from '../../../../../backends/stargz-lazy/registry/hosts.js';
import { registryOptions } from '../../../../../backends/stargz-lazy/registry/options.js';

describe('isLoopbackHost (containerd docker.MatchLocalhost)', () => {
  it.each(['localhost', 'localhost:5000', '127.0.0.1', '127.0.0.1:5000', '127.1.2.3:80', '[::1]', '[::1]:5000', '::1', '[0:0::1]:5000', '[::ffff:127.0.0.1]:5000'])(
    '%s is loopback',
    (h) => expect(isLoopbackHost(h)).toBe(true),
  );
  it.each(['docker.io', '10.0.0.1:5000', '128.0.0.1', '[::2]:5000', 'localhost.example', 'my.localhost', '[::1'])('%s is not', (h) =>
    expect(isLoopbackHost(h)).toBe(false),
  );
});

describe('RegistryHosts', () => {
  const hosts = new RegistryHosts(
    registryOptions.parse({
      timeouts: { connectMs: 1000 },
      hosts: { 'registry.lan:5000': { plainHttp: true, timeouts: { headersMs: 42 } } },
    }),
  );

  it('uses plain HTTP for loopback and configured hosts, HTTPS otherwise', () => {
    expect(hosts.resolve('127.0.0.1:5000')[0]?.origin).toBe('http://127.0.0.1:5000');
    expect(hosts.resolve('localhost')[0]?.origin).toBe('http://localhost');
    expect(hosts.resolve('registry.lan:5000')[0]?.origin).toBe('http://registry.lan:5000');
    expect(hosts.resolve('ghcr.io')[0]?.origin).toBe('https://ghcr.io');
  });

  it('talks to registry-1.docker.io for docker.io', () => {
    expect(hosts.resolve('docker.io')).toEqual([
      { host: 'docker.io', origin: 'https://registry-1.docker.io', path: '/v2', role: 'upstream', timeouts: { connectMs: 1000, headersMs: 10000, bodyMs: 15000 } },
    ]);
  });

  it('merges per-host timeouts over the global ones', () => {
    expect(hosts.resolve('registry.lan:5000')[0]?.timeouts).toEqual({ connectMs: 1000, headersMs: 42, bodyMs: 15000 });
  });
});

describe('mirrors', () => {
  const hosts = new RegistryHosts(
    registryOptions.parse({
      hosts: {
        'docker.io': { mirrors: [{ host: 'mirror.lan:5000', plainHttp: true }, { host: 'mirror.example' }, { host: '127.0.0.1:6000' }] },
        'mirror.example': { timeouts: { connectMs: 77 } },
      },
    }),
  );

  it('puts the mirrors first, in order, then the registry', () => {
    expect(hosts.resolve('docker.io').map((e) => [e.host, e.origin, e.role])).toEqual([
      ['mirror.lan:5000', 'http://mirror.lan:5000', 'mirror'],
      ['mirror.example', 'https://mirror.example', 'mirror'],
      ['127.0.0.1:6000', 'http://127.0.0.1:6000', 'mirror'],
      ['docker.io', 'https://registry-1.docker.io', 'upstream'],
    ]);
  });

  it("takes a mirror's timeouts and connect settings from its own hosts entry", () => {
    expect(hosts.resolve('docker.io')[1]?.timeouts.connectMs).toBe(77);
    expect(hosts.connectFor('https://mirror.example')).toEqual({ timeout: 77 });
    expect(hosts.connectFor('https://unknown.example')).toEqual({ timeout: 5000 });
  });
});

describe('registryOptions', () => {
  it('defaults everything', () => {
    const o = registryOptions.parse({});
    expect(o.retry).toEqual({ retries: 4, baseDelayMs: 100, maxDelayMs: 2000, totalMs: 30000 });
    expect(o.connectionsPerOrigin).toBe(8);
  });
  it.each([
    [{ hosts: { 'http://x': {} } }, 'hosts'],
    [{ hosts: { 'x:5000': { plainhttp: true } } }, 'hosts'],
    [{ timeouts: { connectMs: 0 } }, 'timeouts'],
    [{ retry: { baseDelayMs: 500, maxDelayMs: 100 } }, 'retry'],
    [{ unknown: 1 }, ''],
    [{ hosts: { 'a.example': { mirrors: [{ host: 'a.example' }] } } }, 'hosts.a.example.mirrors.0.host'],
    [{ hosts: { 'a.example': { mirrors: [{ host: 'm.example' }, { host: 'm.example' }] } } }, 'hosts.a.example.mirrors.1.host'],
    [{ hosts: { 'a.example': { mirrors: [{ host: 'https://m.example' }] } } }, 'hosts.a.example.mirrors.0.host'],
    [{ hosts: { 'a.example': { mirrors: [{ host: 'm.example', ca: ['/x'] }] } } }, 'hosts.a.example.mirrors.0'],
    [{ hosts: { 'a.example': { keyFile: '/k.pem' } } }, 'hosts.a.example.certFile'],
    [{ hosts: { 'a.example': { ca: ['relative.pem'] } } }, 'hosts.a.example.ca.0'],
    [{ dockerConfig: 'config.json' }, 'dockerConfig'],
    [{ credentialHelperTimeoutMs: 0 }, 'credentialHelperTimeoutMs'],
  ])('rejects %j', (input, path) => {
    const r = registryOptions.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path.join('.') ?? '').toContain(path);
  });
});

describe('RegistryClient options', () => {
  it('refuses invalid options with InvalidArgumentError naming the field', () => {
    const make = () => new RegistryClient({ retry: { retries: -1 } }, { log: pino({ level: 'silent' }) });
    expect(make).toThrow(InvalidArgumentError);
    expect(make).toThrow(/invalid registry options: retry\.retries: /);
  });
});
