/**
 * core/config/load-typescript.ts when the config's directory cannot be written (a ConfigMap
 * mounted read-only in a pod): the config is compiled in a private temporary directory where
 * `snaphost` still resolves, nothing is left behind, and a relative import fails with a
 * message that says why. (Writes into the config's directory fail with EROFS here: a
 * read-only mount cannot be made by a unit test, and root ignores permissions.)
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

let readOnlyDir = '';
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...orig,
    writeFile: (async (path: Parameters<typeof orig.writeFile>[0], ...rest: unknown[]) => {
      if (readOnlyDir !== '' && typeof path === 'string' && path.startsWith(`${readOnlyDir}/`)) {
        throw Object.assign(new Error(`EROFS: read-only file system, open '${path}'`), { code: 'EROFS' });
      }
      return (orig.writeFile as (...a: unknown[]) => Promise<void>)(path, ...rest);
    }) as typeof orig.writeFile,
  };
});

const { writeFile: realWriteFile } = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');
const { loadTypeScriptConfig } = await import('../../../../core/config/load-typescript.js');
const { ConfigError } = await import('../../../../core/contract/errors.js');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-ro-config-'));
  readOnlyDir = dir;
});
afterEach(async () => {
  readOnlyDir = '';
  await rm(dir, { recursive: true, force: true });
});

async function scratchDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((n) => n.startsWith('snaphost-config-'));
}

describe('loadTypeScriptConfig in a read-only directory', () => {
  it("compiles elsewhere: `snaphost` resolves, types are stripped, nothing is left behind", async () => {
    const before = await scratchDirs();
    const file = join(dir, 'plugins.config.ts');
    const source = `import { defineConfig } from 'snaphost';\nconst size: string = '16m';\nexport default defineConfig({ backends: [{ use: 'memory', options: { size } }] });\n`;
    await realWriteFile(file, source);
    const config = (await loadTypeScriptConfig(file, source)) as { backends: { options: { size: string } }[] };
    expect(config.backends[0]!.options.size).toBe('16m');
    expect(await readdir(dir)).toEqual(['plugins.config.ts']);
    expect((await scratchDirs()).filter((d) => !before.includes(d))).toEqual([]);
  }, 30_000); // the first import of snaphost's SDK (dist/) is slow on a busy machine

  it('a relative import fails with a ConfigError saying the directory is read-only', async () => {
    const file = join(dir, 'plugins.config.ts');
    const source = `import extra from './extra.js';\nexport default { backends: [extra] };\n`;
    await realWriteFile(file, source);
    await realWriteFile(join(dir, 'extra.js'), 'export default { use: "memory" };\n');
    const err = await loadTypeScriptConfig(file, source).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`${dir} is read-only`);
    expect((err as Error).message).toContain('use a .mjs config for other imports');
  });

  it('a writable directory still compiles next to the config (relative imports work)', async () => {
    readOnlyDir = '';
    const file = join(dir, 'plugins.config.ts');
    const source = `import extra from './extra.js';\nexport default { backends: [extra] };\n`;
    await realWriteFile(file, source);
    await realWriteFile(join(dir, 'extra.js'), 'export default { use: "memory" };\n');
    const config = (await loadTypeScriptConfig(file, source)) as { backends: { use: string }[] };
    expect(config.backends[0]!.use).toBe('memory');
    expect((await readdir(dir)).sort()).toEqual(['extra.js', 'plugins.config.ts']);
  });
});
