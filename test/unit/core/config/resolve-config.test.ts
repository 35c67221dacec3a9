import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineBackend } from '../../../../core/contract/define-backend.js';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { ConfigError, type ConfigIssue } from '../../../../core/contract/errors.js';

const baseDir = fileURLToPath(new URL('../../../fixtures/configs/', import.meta.url));

async function issues(raw: unknown): Promise<ConfigIssue[]> {
  const err = await resolveConfig(raw, { baseDir, file: '/etc/snaphost/plugins.config.ts' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).message).toMatch(/^invalid config \/etc\/snaphost\/plugins\.config\.ts:\n/);
  return (err as ConfigError).issues;
}

const inline = defineBackend({
  name: 'inline-one',
  apiVersion: 1,
  options: z.object({ depth: z.number().int().default(1), nested: z.object({ mode: z.enum(['a', 'b']) }).strict().optional() }).strict(),
  create: () => {
    throw new Error('not created in these tests');
  },
});

describe('resolveConfig', () => {
  it('applies defaults', async () => {
    const config = await resolveConfig({ backends: [{ use: 'memory' }] }, { baseDir });
    expect(config).toMatchObject({
      logLevel: 'info',
      socketDir: '/run/snaphost',
      rootDir: '/var/lib/snaphost',
      socketMode: 0o660,
      createTimeoutMs: 30_000,
      shutdownTimeoutMs: 10_000,
    });
    expect(config.backends[0]).toMatchObject({
      index: 0,
      name: 'memory',
      use: 'memory',
      kind: 'builtin',
      socket: '/run/snaphost/memory.sock',
      root: '/var/lib/snaphost/memory',
      logLevel: 'info',
      optional: false,
      options: { size: '50%' },
    });
  });

  it('has no containerdRoot unless set; resolves it against the config directory; rejects an empty one', async () => {
    expect((await resolveConfig({ backends: [{ use: 'memory' }] }, { baseDir })).containerdRoot).toBeUndefined();
    expect((await resolveConfig({ containerdRoot: '/var/lib/containerd', backends: [{ use: 'memory' }] }, { baseDir })).containerdRoot).toBe('/var/lib/containerd');
    expect((await resolveConfig({ containerdRoot: 'containerd', backends: [{ use: 'memory' }] }, { baseDir })).containerdRoot).toBe(`${baseDir}containerd`);
    expect(await issues({ containerdRoot: '', backends: [{ use: 'memory' }] })).toEqual([{ path: 'containerdRoot', message: 'must not be empty' }]);
    expect(await issues({ containerdRoot: '/var/lib/snaphost', backends: [{ use: 'memory' }] })).toEqual([
      { path: 'containerdRoot', message: "/var/lib/snaphost overlaps backends[0]'s root /var/lib/snaphost/memory; containerd's root and snaphost's backend roots must be disjoint" },
    ]);
  });

  it('takes an inline definition object and validates its options with its schema', async () => {
    const config = await resolveConfig({ logLevel: 'warn', backends: [{ use: inline, logLevel: 'debug', options: { nested: { mode: 'b' } } }] }, { baseDir });
    expect(config.backends[0]).toMatchObject({ name: 'inline-one', kind: 'inline', use: 'inline "inline-one"', logLevel: 'debug', options: { depth: 1, nested: { mode: 'b' } } });
    expect(config.logLevel).toBe('warn');
  });

  it('names nested option paths and suggests keys of nested objects', async () => {
    expect(await issues({ backends: [{ use: inline, options: { depth: 1.5, nested: { mode: 'c', moed: 'a' } } }] })).toEqual([
      { path: 'backends[0].options.depth', message: 'Invalid input: expected int, received number' },
      { path: 'backends[0].options.nested.mode', message: 'Invalid option: expected one of "a"|"b"' },
      { path: 'backends[0].options.nested.moed', message: 'unknown key (did you mean "mode"?)' },
    ]);
  });

  it('collects every problem of every entry at once', async () => {
    const found = await issues({
      logLevel: 'loud',
      socketMode: 0o1777,
      backends: [
        { use: 'memory', name: 'Bad Name', options: { size: 7 } },
        { use: 42 },
        'memory',
        { use: 'memory', name: 'ok', optional: 'yes', extra: 1 },
      ],
    });
    expect(found.map((i) => i.path)).toEqual([
      'backends[0].name',
      'backends[0].options.size',
      'backends[1].use',
      'backends[2]',
      'backends[3].extra',
      'backends[3].optional',
      'logLevel',
      'socketMode',
    ]);
    expect(found.find((i) => i.path === 'backends[0].name')!.message).toMatch(/^invalid instance name "Bad Name"/);
    expect(found.find((i) => i.path === 'backends[1].use')!.message).toMatch(/built-in backend name, an npm package name, a file path or a defineBackend\(\) object/);
  });

  it('rejects a config that is not an object, and one without backends', async () => {
    expect(await issues([])).toEqual([{ path: '', message: expect.stringMatching(/must be an object/) }]);
    expect(await issues({ backends: [] })).toEqual([{ path: 'backends', message: 'at least one backend is required' }]);
    expect(await issues({})).toEqual([{ path: 'backends', message: 'Invalid input: expected array, received undefined' }]);
  });

  it('rejects socket paths longer than a unix socket allows, naming where the path came from', async () => {
    const long = `/tmp/${'s'.repeat(110)}`;
    expect(await issues({ backends: [{ use: 'memory', socket: `${long}.sock` }] })).toEqual([
      { path: 'backends[0].socket', message: expect.stringMatching(/is 120 bytes; a unix socket path may have at most 107/) },
    ]);
    expect((await issues({ socketDir: long, backends: [{ use: 'memory' }] }))[0]!.path).toBe('socketDir');
  });

  it('rejects duplicate and nested roots', async () => {
    expect(
      await issues({
        backends: [
          { use: 'memory', name: 'a', root: '/srv/state' },
          { use: 'memory', name: 'b', root: '/srv/state' },
          { use: 'memory', name: 'c', root: '/srv/state/inner' },
        ],
      }),
    ).toEqual([
      { path: 'backends[1].root', message: 'duplicate root /srv/state (also backends[0])' },
      { path: 'backends[2].root', message: "root /srv/state/inner overlaps backends[0]'s root /srv/state; roots must be disjoint" },
      { path: 'backends[2].root', message: "root /srv/state/inner overlaps backends[1]'s root /srv/state; roots must be disjoint" },
    ]);
  });

  it('resolves relative socket and root paths against the config directory', async () => {
    const config = await resolveConfig({ backends: [{ use: 'memory', socket: 'run/m.sock', root: '../state' }] }, { baseDir: '/etc/snaphost' });
    expect(config.backends[0]).toMatchObject({ socket: '/etc/snaphost/run/m.sock', root: '/etc/state' });
  });

  it('names a package backend that is not installed, and keeps it when optional', async () => {
    const config = await resolveConfig({ backends: [{ use: '@acme/snaphost-nothing', optional: true }] }, { baseDir });
    expect(config.backends[0]!.name).toBe('snaphost-nothing');
    expect(config.backends[0]!.error!.message).toMatch(/^backend "snaphost-nothing": cannot load package "@acme\/snaphost-nothing": not installed in /);
  });
});
