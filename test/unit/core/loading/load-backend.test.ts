import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BACKEND_MARK, defineBackend } from '../../../../core/contract/define-backend.js';
import { fallbackName, loadBackend } from '../../../../core/loading/load-backend.js';
import { BackendContractError, BackendLoadError } from '../../../../core/contract/errors.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/backends', import.meta.url));

async function loadError(use: string | object, backend = 'fx', baseDir = fixtures): Promise<Error> {
  const err = await loadBackend(use, { baseDir, backend }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message.startsWith(`backend "${backend}": `)).toBe(true);
  expect((err as Error).message).not.toContain('\n');
  return err as Error;
}

describe('loadBackend: loader fixtures', () => {
  it('broken-import (syntax error) -> BackendLoadError naming the module', async () => {
    const err = await loadError('./broken-import/index.mjs', 'broken');
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err.message).toContain(`cannot import ${join(fixtures, 'broken-import/index.mjs')}: `);
    expect(err.cause).toBeDefined();
  });

  it('missing-dependency -> BackendLoadError naming the missing package', async () => {
    const err = await loadError('./missing-dependency/index.mjs', 'missing');
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err.message).toContain(join(fixtures, 'missing-dependency/index.mjs'));
    expect(err.message).toContain('snaphost-fixture-package-that-does-not-exist');
  });

  it('not-a-backend -> BackendLoadError saying what was exported', async () => {
    const err = await loadError('./not-a-backend/index.mjs', 'nab');
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err.message).toContain('does not export a backend definition (its default export is a function (notABackend)');
  });

  it('wrong-api-version -> BackendContractError naming both versions', async () => {
    const err = await loadError('./wrong-api-version', 'old');
    expect(err).toBeInstanceOf(BackendContractError);
    expect(err.message).toContain('written for backend API version 99, but this snaphost supports version 1, 2');
  });

  it('a missing file -> BackendLoadError with the absolute path', async () => {
    const err = await loadError('./no-such-backend.mjs', 'gone');
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err.message).toBe(`backend "gone": cannot load ${join(fixtures, 'no-such-backend.mjs')}: file not found`);
  });

  it('a half-shaped definition -> BackendLoadError listing what is wrong', async () => {
    const err = await loadError({ name: 'half', apiVersion: 1.5, options: {} }, 'half');
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err.message).toBe(
      'backend "half": the inline definition is not a valid backend definition: `apiVersion` must be an integer; `options` must be a zod schema (an object with safeParse); `create` must be a function',
    );
  });
});

describe('loadBackend: sources', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snaphost-load-'));
    const backend = (name: string) =>
      `export default { name: ${JSON.stringify(name)}, apiVersion: 1, options: { safeParse: (v) => ({ success: true, data: v }) }, create() {} };\n`;
    const pkg = join(dir, 'node_modules', '@acme', 'lazy');
    await mkdir(join(pkg, 'dist'), { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/lazy', type: 'module', exports: { '.': { types: './x.d.ts', import: './dist/index.js' }, './extra/*': './dist/*.js' } }));
    await writeFile(join(pkg, 'dist', 'index.js'), backend('acme-lazy'));
    await writeFile(join(pkg, 'dist', 'other.js'), backend('acme-other'));
    const plain = join(dir, 'node_modules', 'plain-backend');
    await mkdir(plain, { recursive: true });
    await writeFile(join(plain, 'package.json'), JSON.stringify({ name: 'plain-backend', type: 'module', main: 'main' }));
    await writeFile(join(plain, 'main.js'), backend('plain'));
    await mkdir(join(dir, 'config', 'deeper'), { recursive: true });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves a package from the config directory upwards, with exports conditions and patterns', async () => {
    const base = join(dir, 'config', 'deeper');
    const lazy = await loadBackend('@acme/lazy', { baseDir: base, backend: 'x' });
    expect(lazy).toMatchObject({ kind: 'package', module: join(dir, 'node_modules/@acme/lazy/dist/index.js') });
    expect(lazy.definition.name).toBe('acme-lazy');
    expect((await loadBackend('@acme/lazy/extra/other', { baseDir: base, backend: 'x' })).definition.name).toBe('acme-other');
    expect((await loadBackend('plain-backend', { baseDir: base, backend: 'x' })).definition.name).toBe('plain');
  });

  it('refuses a subpath the package does not export', async () => {
    const err = await loadError('@acme/lazy/secret', 'x', dir);
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err.message).toContain('does not export "./secret"');
  });

  it('loads the built-in memory backend and an inline defineBackend() object', async () => {
    const memory = await loadBackend('memory', { baseDir: dir, backend: 'memory' });
    expect(memory).toMatchObject({ kind: 'builtin', module: 'memory' });
    expect(memory.definition.name).toBe('memory');
    const def = defineBackend({ name: 'inl', apiVersion: 1, options: z.object({}), create: () => ({}) as never });
    const inline = await loadBackend(def, { baseDir: dir, backend: 'inl' });
    expect(inline.definition).toBe(def);
    expect(BACKEND_MARK in inline.definition).toBe(true);
  });

  it('derives a name for backends that cannot be loaded', () => {
    expect(fallbackName('./x/create-hangs/index.mjs')).toBe('create-hangs');
    expect(fallbackName('/opt/b/lazy.mjs')).toBe('lazy');
    expect(fallbackName('@acme/lazy/extra')).toBe('lazy');
    expect(fallbackName('memory')).toBe('memory');
  });
});

describe('loadBackend: a version 1 module importing what the SDK moved', () => {
  let dir: string;
  beforeAll(async () => {
    // A stand-in 'snaphost' package with the version 2 entries: the contract at '.', the building blocks at './overlay'.
    dir = await mkdtemp(join(tmpdir(), 'snaphost-v1-'));
    const sdk = join(dir, 'node_modules', 'snaphost');
    await mkdir(sdk, { recursive: true });
    await writeFile(join(sdk, 'package.json'), JSON.stringify({ name: 'snaphost', type: 'module', exports: { '.': './sdk.js', './overlay': './overlay.js' } }));
    await writeFile(join(sdk, 'sdk.js'), 'export const defineBackend = (d) => d;\n');
    await writeFile(join(sdk, 'overlay.js'), 'export const createOverlaySnapshotter = () => ({});\n');
    const v1 = (imports: string, from: string) =>
      `import { defineBackend } from 'snaphost';\nimport { ${imports} } from '${from}';\n` +
      `export default defineBackend({ name: 'old', apiVersion: 1, options: { safeParse: (v) => ({ success: true, data: v }) }, create() {} });\n`;
    // Installed as packages: imported by Node itself (as the daemon does), which links named imports.
    const pkg = async (name: string, imports: string, from: string) => {
      await mkdir(join(dir, 'node_modules', name), { recursive: true });
      await writeFile(join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, type: 'module', main: 'index.js' }));
      await writeFile(join(dir, 'node_modules', name, 'index.js'), v1(imports, from));
    };
    await pkg('class', 'OverlaySnapshotter', 'snaphost');
    await pkg('class-overlay', 'OverlaySnapshotter', 'snaphost/overlay');
    await pkg('store', 'LmdbMetaStore', 'snaphost');
    await pkg('unknown', 'NoSuchThing', 'snaphost');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('OverlaySnapshotter (from either entry) -> says to compose with createOverlaySnapshotter from snaphost/overlay', async () => {
    for (const file of ['class', 'class-overlay']) {
      const err = await loadError(file, 'old', dir);
      expect(err).toBeInstanceOf(BackendLoadError);
      expect(err.message).toContain("does not provide an export named 'OverlaySnapshotter'");
      expect(err.message).toContain("createOverlaySnapshotter({ store, dir, log, layers?, beforeWrite? }) from 'snaphost/overlay'");
      expect(err.message).toContain('apiVersion: 2');
      expect(err.message).toContain('"Changes in apiVersion 2" in docs/writing-a-backend.md');
    }
  });

  it("a building block imported from 'snaphost' -> names its new entry", async () => {
    const err = await loadError('store', 'old', dir);
    expect(err.message).toContain("since backend API version 2, LmdbMetaStore comes from 'snaphost/overlay': import { LmdbMetaStore } from 'snaphost/overlay'");
  });

  it('a name no entry exports -> says so, pointing at the guide', async () => {
    const err = await loadError('unknown', 'old', dir);
    expect(err.message).toContain('snaphost does not export NoSuchThing (see "Changes in apiVersion 2" in docs/writing-a-backend.md)');
  });
});
