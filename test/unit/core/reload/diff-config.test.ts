/** diffConfig: what a reload starts, stops, restarts, updates live and leaves alone. */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineBackend } from '../../../../core/contract/define-backend.js';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { diffConfig } from '../../../../core/reload/diff-config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-diff-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const resolve = (raw: Record<string, unknown>) => resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), ...raw }, { baseDir: dir });
const names = (bs: { name: string }[]) => bs.map((b) => b.name);

describe('diffConfig', () => {
  it('sorts instances into added, removed, changed and unchanged by name', async () => {
    const a = await resolve({ backends: [{ use: 'memory', name: 'same' }, { use: 'memory', name: 'gone' }, { use: 'memory', name: 'opts', options: { size: '1g' } }] });
    const b = await resolve({ backends: [{ use: 'memory', name: 'new' }, { use: 'memory', name: 'opts', options: { size: '2g' } }, { use: 'memory', name: 'same' }] });
    const d = diffConfig(a, b);
    expect(names(d.added)).toEqual(['new']);
    expect(names(d.removed)).toEqual(['gone']);
    expect(names(d.unchanged)).toEqual(['same']);
    expect(d.changed.map((c) => [c.after.name, c.fields, c.restart])).toEqual([['opts', ['options'], true]]);
    expect(d.settings).toEqual([]);
  });

  it('a log level alone is applied live; socket, root and optional need a restart', async () => {
    const a = await resolve({ backends: [{ use: 'memory', name: 'm' }, { use: 'memory', name: 'n' }] });
    const b = await resolve({ backends: [{ use: 'memory', name: 'm', logLevel: 'debug' }, { use: 'memory', name: 'n', socket: join(dir, 'n2.sock'), root: join(dir, 'n2'), optional: true }] });
    const d = diffConfig(a, b);
    expect(d.changed.map((c) => [c.after.name, c.fields, c.restart])).toEqual([
      ['m', ['logLevel'], false],
      ['n', ['socket', 'root', 'optional'], true],
    ]);
  });

  it('a changed use (another module) restarts; the same built-in is the same definition', async () => {
    const a = await resolve({ backends: [{ use: 'memory', name: 'x', options: {} }] });
    const b = await resolve({ backends: [{ use: 'overlayfs-native', name: 'x', options: {} }] });
    expect(diffConfig(a, b).changed[0]!.fields).toEqual(expect.arrayContaining(['use', 'module', 'definition', 'options']));
    expect(diffConfig(a, await resolve({ backends: [{ use: 'memory', name: 'x', options: {} }] })).unchanged).toHaveLength(1);
  });

  it('an edited backend file restarts its instances; an untouched one does not', async () => {
    const file = join(dir, 'mine.mjs');
    const source = (tag: string) =>
      `export default { name: 'mine', apiVersion: 1, options: { safeParse: (v) => ({ success: true, data: v }) }, create() { return ${JSON.stringify(tag)}; } };\n`;
    await writeFile(file, source('one'));
    const a = await resolve({ backends: [{ use: './mine.mjs' }] });
    expect(diffConfig(a, await resolve({ backends: [{ use: './mine.mjs' }] })).unchanged).toHaveLength(1);
    await writeFile(file, source('two'));
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    const b = await resolve({ backends: [{ use: './mine.mjs' }] });
    expect(diffConfig(a, b).changed.map((c) => c.fields)).toEqual([['definition']]);
    expect(String(b.backends[0]!.definition!.create)).toContain('two');
  });

  it('inline definitions compare by name, version and code, not by object identity', async () => {
    const def = (body: string) => defineBackend({ name: 'inl', apiVersion: 1, options: z.object({}), create: new Function(body) as () => never });
    const a = await resolve({ backends: [{ use: def('return 1') }] });
    expect(diffConfig(a, await resolve({ backends: [{ use: def('return 1') }] })).unchanged).toHaveLength(1);
    expect(diffConfig(a, await resolve({ backends: [{ use: def('return 2') }] })).changed[0]!.fields).toEqual(['definition']);
  });

  it('daemon settings: timeouts, log level and socket mode apply live; the rest at the next start', async () => {
    const a = await resolve({ backends: [{ use: 'memory', name: 'm', socket: join(dir, 'm.sock'), root: join(dir, 'm') }] });
    const b = await resolve({
      logLevel: 'warn',
      shutdownTimeoutMs: 1,
      socketMode: 0o600,
      socketDir: join(dir, 'elsewhere'),
      metrics: { address: '127.0.0.1:0' },
      backends: [{ use: 'memory', name: 'm', socket: join(dir, 'm.sock'), root: join(dir, 'm'), logLevel: 'info' }],
    });
    const d = diffConfig(a, b);
    expect(d.settings.map((s) => [s.field, s.apply])).toEqual([
      ['logLevel', 'live'],
      ['metrics', 'restart'],
      ['shutdownTimeoutMs', 'live'],
      ['socketDir', 'restart'],
      ['socketMode', 'live'],
    ]);
    expect(d.unchanged).toHaveLength(1);
  });
});
