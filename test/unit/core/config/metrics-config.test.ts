/** The `metrics` section of the config: optional, strict, `address` checked as host:port. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { ConfigError, type ConfigIssue } from '../../../../core/contract/errors.js';

const baseDir = fileURLToPath(new URL('../../../fixtures/configs/', import.meta.url));

async function issues(metrics: unknown): Promise<ConfigIssue[]> {
  const err = await resolveConfig({ backends: [{ use: 'memory' }], metrics }, { baseDir }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).issues;
}

describe('metrics config', () => {
  it('is off unless configured', async () => {
    const config = await resolveConfig({ backends: [{ use: 'memory' }] }, { baseDir });
    expect(config.metrics).toBeUndefined();
    expect('metrics' in config).toBe(false);
  });

  it.each(['127.0.0.1:9100', '[::1]:0', '0.0.0.0:9100', 'localhost:9100'])('accepts %s', async (address) => {
    const config = await resolveConfig({ backends: [{ use: 'memory' }], metrics: { address } }, { baseDir });
    expect(config.metrics).toEqual({ address, minIntervalMs: 10_000, collectTimeoutMs: 5000, maxConnections: 16 });
  });

  it('takes the scrape bounds, and names a bad one', async () => {
    const config = await resolveConfig({ backends: [{ use: 'memory' }], metrics: { address: '127.0.0.1:0', minIntervalMs: 0, collectTimeoutMs: 250, maxConnections: 4 } }, { baseDir });
    expect(config.metrics).toEqual({ address: '127.0.0.1:0', minIntervalMs: 0, collectTimeoutMs: 250, maxConnections: 4 });
    expect((await issues({ address: '127.0.0.1:0', maxConnections: 0 }))[0]).toMatchObject({ path: 'metrics.maxConnections' });
    expect((await issues({ address: '127.0.0.1:0', minIntervalMs: -1 }))[0]).toMatchObject({ path: 'metrics.minIntervalMs' });
  });

  it('names metrics.address in every problem with the address', async () => {
    expect(await issues({ address: ':9100' })).toEqual([{ path: 'metrics.address', message: expect.stringMatching(/^expected host:port .*the host is missing/) }]);
    expect(await issues({ address: '127.0.0.1:70000' })).toEqual([{ path: 'metrics.address', message: expect.stringMatching(/^expected host:port .*port "70000"/) }]);
    expect(await issues({ address: 9100 })).toEqual([{ path: 'metrics.address', message: expect.stringMatching(/^expected host:port/) }]);
    expect(await issues({})).toEqual([{ path: 'metrics.address', message: 'Invalid input: expected string, received undefined' }]);
  });

  it('is strict: unknown keys and a non-object are errors', async () => {
    expect(await issues({ address: '127.0.0.1:1', adress: 'x' })).toEqual([{ path: 'metrics.adress', message: 'unknown key (did you mean "address"?)' }]);
    expect(await issues('127.0.0.1:9100')).toEqual([{ path: 'metrics', message: 'expected { address: "host:port" }' }]);
  });

  it('reports a bad metrics section together with the other problems', async () => {
    const err = await resolveConfig({ backends: [{ use: 'memory', name: 'Bad Name' }], metrics: { address: 'x' } }, { baseDir }).catch((e: unknown) => e);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual(['backends[0].name', 'metrics.address']);
  });
});
