/** serveMetrics: address handling, listening errors, render failures and closing. */
import { createServer } from 'node:net';
import http from 'node:http';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../core/contract/errors.js';
import { formatHostPort, isLoopback, parseHostPort } from '../../../../core/metrics/host-port.js';
import { serveMetrics } from '../../../../core/metrics/serve-metrics.js';

const silent = pino({ level: 'silent' });
const fixed = { render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '# HELP x X.\n# TYPE x gauge\nx 1\n' }) };

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:9100', { host: '127.0.0.1', port: 9100 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['[::]:65535', { host: '::', port: 65535 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['metrics.node-1.example:9100', { host: 'metrics.node-1.example', port: 9100 }],
  ])('reads %s', (address, expected) => {
    expect(parseHostPort(address)).toEqual(expected);
  });

  it.each([
    ['9100', /no port/],
    [':9100', /the host is missing/],
    ['::1:9100', /put an IPv6 address in brackets: \[::1\]:9100/],
    ['[::1]9100', /expected host:port/],
    ['[nope]:1', /not an IPv6 address/],
    ['127.0.0.1:', /port "" is not a number/],
    ['127.0.0.1:65536', /port "65536"/],
    ['127.0.0.1:-1', /port "-1"/],
    ['127.0.0.1:9100x', /port "9100x"/],
    ['host_name:1', /not a host name or IP address/],
    ['http://127.0.0.1:9100', /expected host:port/],
  ])('refuses %s', (address, message) => {
    const r = parseHostPort(address);
    expect('error' in r && r.error).toMatch(/^expected host:port/);
    expect('error' in r && r.error).toMatch(message);
  });

  it('formats and classifies hosts', () => {
    expect(formatHostPort('::1', 80)).toBe('[::1]:80');
    expect(formatHostPort('127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});

describe('serveMetrics', () => {
  it('refuses an invalid address with a ConfigError naming metrics.address', async () => {
    const err = await serveMetrics(fixed, ':9100', silent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'metrics.address', message: expect.stringMatching(/^expected host:port.*the host is missing/) }]);
  });

  it('serves on IPv6 loopback with the real port', async () => {
    const s = await serveMetrics(fixed, '[::1]:0', silent);
    try {
      expect(s.address).toMatch(/^\[::1\]:\d+$/);
      expect(s.address).not.toBe('[::1]:0');
      const res = await fetch(`http://${s.address}/metrics`);
      expect(await res.text()).toBe('# HELP x X.\n# TYPE x gauge\nx 1\n');
    } finally {
      await s.close();
    }
  });

  it('names the address when it cannot listen', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as { port: number };
    try {
      await expect(serveMetrics(fixed, `127.0.0.1:${port}`, silent)).rejects.toThrow(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    } finally {
      taken.close();
    }
  });

  it('warns when the address is beyond loopback (no authentication)', async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as { level: number; msg: string }) });
    const s = await serveMetrics(fixed, '0.0.0.0:0', log);
    await s.close();
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: expect.stringMatching(/beyond loopback and without authentication/) })]);
  });

  it('answers 500 when rendering fails and keeps serving', async () => {
    let fail = true;
    const s = await serveMetrics({ render: async () => (fail ? Promise.reject(new Error('exploded')) : fixed.render()) }, '127.0.0.1:0', silent);
    try {
      const res = await fetch(`http://${s.address}/metrics`);
      expect(res.status).toBe(500);
      expect(await res.text()).toMatch(/exploded/);
      fail = false;
      expect((await fetch(`http://${s.address}/metrics`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('close() ends idle keep-alive connections and is idempotent', async () => {
    const s = await serveMetrics(fixed, '127.0.0.1:0', silent);
    const agent = new http.Agent({ keepAlive: true });
    const status = await new Promise<number | undefined>((resolve, reject) => {
      http.get(`http://${s.address}/metrics`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      }).on('error', reject);
    });
    expect(status).toBe(200);
    const started = Date.now();
    await Promise.all([s.close(), s.close()]);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetch(`http://${s.address}/metrics`)).rejects.toThrow();
    agent.destroy();
  });

  it('accepts at most maxConnections connections at once and refuses oversized request headers', async () => {
    const s = await serveMetrics(fixed, '127.0.0.1:0', silent, { maxConnections: 2 });
    const [host, port] = [s.address.slice(0, s.address.lastIndexOf(':')), Number(s.address.slice(s.address.lastIndexOf(':') + 1))];
    const { connect } = await import('node:net');
    const open = () =>
      new Promise<import('node:net').Socket>((resolve, reject) => {
        const c = connect({ host, port }, () => resolve(c));
        c.on('error', reject);
      });
    const closed = (c: import('node:net').Socket) => new Promise<void>((resolve) => (c.closed ? resolve() : c.once('close', () => resolve())));
    const held = [await open(), await open()];
    try {
      const third = await open();
      // The server closes it at accept: no answer, just the end of the connection.
      await Promise.race([closed(third), new Promise((_, reject) => setTimeout(() => reject(new Error('a third connection was kept')), 5_000))]);
    } finally {
      for (const c of held) c.destroy();
    }
    await Promise.all(held.map(closed));
    // Once they are gone, connections are accepted again; a huge header is answered 431.
    // (The server counts them closed when it sees their end: give a loaded machine a few seconds.)
    let status: number | undefined;
    for (const deadline = Date.now() + 5_000; status !== 200 && Date.now() < deadline; ) {
      status = await fetch(`http://${s.address}/metrics`).then((r) => r.status, () => undefined);
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    const big = await fetch(`http://${s.address}/metrics`, { headers: { 'x-filler': 'a'.repeat(16 * 1024) } }).catch((e: unknown) => e);
    expect(big instanceof Response ? big.status : 'closed').toSatisfy((v: unknown) => v === 431 || v === 'closed');
    await s.close();
  });
});
