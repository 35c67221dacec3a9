/** The `criProxy` section of the config: optional, strict, bounded, paths resolved, clashes named. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { ConfigError, type ConfigIssue } from '../../../../core/contract/errors.js';

const baseDir = fileURLToPath(new URL('../../../fixtures/configs/', import.meta.url));

async function issues(criProxy: unknown, extra: Record<string, unknown> = {}): Promise<ConfigIssue[]> {
  const err = await resolveConfig({ backends: [{ use: 'memory' }], criProxy, ...extra }, { baseDir }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).issues;
}

describe('criProxy config', () => {
  it('is off unless configured', async () => {
    expect('criProxy' in (await resolveConfig({ backends: [{ use: 'memory' }] }, { baseDir }))).toBe(false);
  });

  it('resolves paths against the config directory and fills every default', async () => {
    const c = await resolveConfig({ backends: [{ use: 'memory' }], socketMode: 0o640, criProxy: { listen: 'run/cri.sock', upstream: '/run/containerd/containerd.sock' } }, { baseDir });
    expect(c.criProxy).toEqual({
      listen: join(baseDir, 'run/cri.sock'),
      upstream: '/run/containerd/containerd.sock',
      socketMode: 0o640,
      credentialsTtlMs: 7 * 86_400_000,
      maxRepositories: 1024,
      maxMessageBytes: 16 * 1024 * 1024,
      maxConcurrentCalls: 64,
      callTimeoutMs: 120_000,
      pullTimeoutMs: 3_600_000,
    });
  });

  it('names unknown keys, bad bounds and missing sockets', async () => {
    expect(await issues({ listen: '/a', upstream: '/b', extra: 1 })).toEqual([{ path: 'criProxy.extra', message: 'unknown key' }]);
    expect((await issues({ listen: '/a', upstream: '/b', maxConcurrentCalls: 0 }))[0]).toMatchObject({ path: 'criProxy.maxConcurrentCalls' });
    expect((await issues({ listen: '/a', upstream: '/b', maxMessageBytes: 10 }))[0]).toMatchObject({ path: 'criProxy.maxMessageBytes' });
    expect((await issues({ listen: '/a', upstream: '/b', credentialsTtlMs: 100 * 86_400_000 }))[0]).toMatchObject({ path: 'criProxy.credentialsTtlMs' });
    expect((await issues({ upstream: '/b' }))[0]).toMatchObject({ path: 'criProxy.listen' });
  });

  it('refuses a proxy socket that is the upstream or a backend socket', async () => {
    expect(await issues({ listen: '/run/x.sock', upstream: '/run/x.sock' })).toEqual([{ path: 'criProxy.listen', message: expect.stringContaining('cannot forward to itself') }]);
    expect(await issues({ listen: '/run/m.sock', upstream: '/run/c.sock' }, { backends: [{ use: 'memory', socket: '/run/m.sock' }] })).toEqual([
      { path: 'criProxy.listen', message: expect.stringContaining("backends[0]'s socket") },
    ]);
  });
});
