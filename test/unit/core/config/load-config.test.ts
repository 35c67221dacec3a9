import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../core/config/load-config.js';
import { BackendContractError, BackendLoadError, ConfigError } from '../../../../core/contract/errors.js';

const configs = fileURLToPath(new URL('../../../fixtures/configs/', import.meta.url));
const fixture = (name: string) => join(configs, name);

async function configError(file: string): Promise<ConfigError> {
  const err = await loadConfig(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('loadConfig: every problem named by its config path', () => {
  it('unknown top-level key, with a suggestion', async () => {
    const err = await configError(fixture('unknown-top-level-key.mjs'));
    expect(err.issues).toEqual([{ path: 'sockDir', message: 'unknown key (did you mean "socketDir"?)' }]);
    expect(err.message).toContain(fixture('unknown-top-level-key.mjs'));
    expect(err.message).toContain('sockDir: unknown key');
  });

  it('unknown key in an entry', async () => {
    const err = await configError(fixture('unknown-entry-key.mjs'));
    expect(err.issues).toEqual([{ path: 'backends[0].optinos', message: 'unknown key (did you mean "options"?)' }]);
  });

  it('memory options: a typo and a wrong type, both reported', async () => {
    const err = await configError(fixture('memory-options-typo.mjs'));
    expect(err.issues).toEqual([
      { path: 'backends[0].options.sise', message: 'unknown key (did you mean "size"?)' },
      { path: 'backends[1].options.size', message: 'Invalid input: expected string, received number' },
    ]);
    expect(err.message).toContain('backends[1].options.size: Invalid input: expected string, received number');
  });

  it('duplicate names (defaulted from the backend)', async () => {
    const err = await configError(fixture('duplicate-names.mjs'));
    expect(err.issues.map((i) => i.path)).toEqual(['backends[1].name']);
    expect(err.issues[0]!.message).toMatch(/duplicate name "memory" \(also backends\[0\]\)/);
  });

  it('duplicate sockets (JSON config)', async () => {
    const err = await configError(fixture('duplicate-sockets.json'));
    expect(err.issues).toEqual([{ path: 'backends[1].socket', message: 'duplicate socket /run/snaphost/shared.sock (also backends[0])' }]);
  });

  it('a syntax error in the config file itself', async () => {
    const err = await configError(fixture('syntax-error.mjs'));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]!.path).toBe('');
    expect(err.issues[0]!.message).toMatch(/^cannot load: /);
  });

  it('a missing file', async () => {
    const err = await configError(fixture('no-such-config.mjs'));
    expect(err.message).toContain('no-such-config.mjs');
    expect(err.issues).toEqual([{ path: '', message: 'file not found' }]);
  });
});

describe('loadConfig: loading', () => {
  it('loads a .ts config, resolving relative paths against its directory', async () => {
    const config = await loadConfig(fixture('typescript.ts'));
    expect(config.file).toBe(fixture('typescript.ts'));
    expect(config.socketDir).toBe(join(configs, 'sockets'));
    expect(config.backends.map((b) => [b.name, b.socket, b.optional])).toEqual([
      ['memory', join(configs, 'sockets', 'memory.sock'), false],
      ['thrower', join(configs, 'sockets', 'thrower.sock'), true],
    ]);
    expect(config.backends[0]!.options).toEqual({ size: '32m' });
    expect(config.backends[1]!.module).toBe(resolve(configs, '../backends/create-throws/index.mjs'));
  });

  it('keeps an optional backend that fails to load, with its error, and resolves the rest', async () => {
    const config = await loadConfig(fixture('optional-broken.mjs'));
    const [mem, broken] = config.backends;
    expect(mem).toMatchObject({ name: 'mem', socket: '/run/snaphost/mem.sock', root: '/var/lib/snaphost/mem', options: { size: '64m' } });
    expect(mem!.error).toBeUndefined();
    expect(broken).toMatchObject({ name: 'broken', optional: true });
    expect(broken!.error).toBeInstanceOf(BackendLoadError);
    expect(broken!.error!.message).toContain('backend "broken"');
  });

  it('records a required backend that fails to load (the daemon refuses to start on it)', async () => {
    const config = await loadConfig(fixture('required-broken.mjs'));
    const failed = config.backends[1]!;
    expect(failed.name).toBe('missing-dependency');
    expect(failed.optional).toBe(false);
    expect(failed.error).toBeInstanceOf(BackendLoadError);
  });

  describe('search in the working directory', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'snaphost-config-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('finds plugins.config.json', async () => {
      await writeFile(join(dir, 'plugins.config.json'), JSON.stringify({ rootDir: 'state', backends: [{ use: 'memory' }] }));
      const config = await loadConfig(undefined, dir);
      expect(config.file).toBe(join(dir, 'plugins.config.json'));
      expect(config.backends[0]!.root).toBe(join(dir, 'state', 'memory'));
    });

    it('prefers plugins.config.ts over .mjs, and removes its compiled copy', async () => {
      await writeFile(join(dir, 'plugins.config.ts'), "const n: string = 'from-ts';\nexport default { backends: [{ use: 'memory', name: n }] };\n");
      await writeFile(join(dir, 'plugins.config.mjs'), "export default { backends: [{ use: 'memory', name: 'from-mjs' }] };\n");
      const config = await loadConfig(undefined, dir);
      expect(config.backends[0]!.name).toBe('from-ts');
      const { readdir } = await import('node:fs/promises');
      expect((await readdir(dir)).sort()).toEqual(['plugins.config.mjs', 'plugins.config.ts']);
    });

    it('reports TypeScript syntax errors with their position', async () => {
      await writeFile(join(dir, 'plugins.config.ts'), 'export default { backends: [ };\n');
      const err = await loadConfig(undefined, dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]!.message).toMatch(/^line 1, column \d+: /);
    });

    it('does not search parent directories', async () => {
      await writeFile(join(dir, 'plugins.config.json'), JSON.stringify({ backends: [{ use: 'memory' }] }));
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(dir, 'sub'));
      const err = await loadConfig(undefined, join(dir, 'sub')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]!.message).toMatch(/^no config file found in /);
    });

    it('says what it looked for when there is no config', async () => {
      const err = await loadConfig(undefined, dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain('plugins.config.ts, plugins.config.mjs, plugins.config.js, plugins.config.json');
    });

    it('wrong apiVersion in a file backend is recorded as a BackendContractError', async () => {
      const use = fileURLToPath(new URL('../../../fixtures/backends/wrong-api-version/index.mjs', import.meta.url));
      await writeFile(join(dir, 'plugins.config.mjs'), `export default { backends: [{ use: ${JSON.stringify(use)}, optional: true }] };\n`);
      const config = await loadConfig(undefined, dir);
      expect(config.backends[0]!.error).toBeInstanceOf(BackendContractError);
    });
  });
});
