/**
 * The runtime copy of the FUSE-serving process (runtime-files.ts, runtime-copy.ts) against a
 * small fake application: only the modules reachable from the entry points and the packages
 * they import (with their dependencies, nested ones resolved as Node does) are copied; the id
 * follows the content (same build: same id and no second copy; one byte changed: another id);
 * a missing package is an error naming it; `sweepRuntimes` removes copies no live process uses
 * and keeps the current one and one whose process runs.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runtimeFiles, specifiers } from '../../../../../backends/stargz-lazy/fused-host/runtime-files.js';
import { installRuntime, runtimeId, sweepRuntimes } from '../../../../../backends/stargz-lazy/fused-host/runtime-copy.js';
import { generationPaths } from '../../../../../backends/stargz-lazy/protocol/generation.js';
import { quietLog } from '../fused/fused-env.js';

let tmp: string;
let app: string;
const entries = ['dist/main.js'];

async function put(rel: string, text: string): Promise<void> {
  await mkdir(dirname(join(app, rel)), { recursive: true });
  await writeFile(join(app, rel), text);
}

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-runtime-'));
  app = join(tmp, 'app');
  await put('package.json', '{"type":"module"}');
  await put('dist/main.js', "import a from './a.js';\nimport { x } from 'pkg-a/sub.js';\nexport * from './b.js';\nconst w = new URL('./worker.js', import.meta.url);\nimport('node:fs');\n");
  await put('dist/a.js', "import '@scope/b';\nexport default 1;\n");
  await put('dist/b.js', 'export const b = 2;\n');
  await put('dist/worker.js', 'export {};\n');
  await put('dist/unused.js', "import 'not-needed';\n");
  await put('node_modules/pkg-a/package.json', '{"dependencies":{"dep-c":"1"},"optionalDependencies":{"absent":"1"}}');
  await put('node_modules/pkg-a/sub.js', '');
  await put('node_modules/pkg-a/node_modules/dep-c/package.json', '{}');
  await put('node_modules/pkg-a/node_modules/dep-c/addon.node', 'binary');
  await put('node_modules/@scope/b/package.json', '{}');
  await put('node_modules/not-needed/package.json', '{}');
  await put('node_modules/.bin/tool', '');
  await put('node', '#!/bin/sh\n');
});
afterEach(async () => rm(tmp, { recursive: true, force: true }));

describe('runtimeFiles', () => {
  it('finds the specifiers of static, dynamic, re-export and new URL imports', () => {
    expect(specifiers("import a from './a.js'; export * from \"./b.js\"; import('c'); new URL('./w.js', import.meta.url); import 'd';")).toEqual(['./a.js', './b.js', 'c', './w.js', 'd']);
  });

  it('copies what the entry points reach, not the world', async () => {
    expect(await runtimeFiles(app, entries)).toEqual([
      'dist/a.js',
      'dist/b.js',
      'dist/main.js',
      'dist/worker.js',
      'node_modules/@scope/b/package.json',
      'node_modules/pkg-a/node_modules/dep-c/addon.node',
      'node_modules/pkg-a/node_modules/dep-c/package.json',
      'node_modules/pkg-a/package.json',
      'node_modules/pkg-a/sub.js',
      'package.json',
    ]);
  });

  it("takes the application's own native addon a module names by new URL, when it is built", async () => {
    // As fuse-kernel/fuse-device.js: one URL next to the module (sources), one into the source tree (from dist/).
    await put('dist/b.js', "const a = new URL('./native/x.node', import.meta.url);\nconst b = new URL('../src/native/build/x.node', import.meta.url);\n");
    expect(await runtimeFiles(app, entries)).not.toContain('src/native/build/x.node');
    await put('src/native/build/x.node', 'binary');
    const files = await runtimeFiles(app, entries);
    expect(files).toContain('src/native/build/x.node');
    expect(files).not.toContain('dist/native/x.node');
  });

  it('names a package that is imported but not installed', async () => {
    await put('dist/b.js', "import 'missing-pkg';\n");
    await expect(runtimeFiles(app, entries)).rejects.toThrow(/imports missing-pkg, which is not installed/);
    await expect(runtimeFiles(app, ['dist/nope.js'])).rejects.toThrow(/needs dist\/nope.js/);
  });
});

describe('runtimeId and installRuntime', () => {
  it('depends on the content only', async () => {
    const files = await runtimeFiles(app, entries);
    const src = { node: join(app, 'node'), appDir: app };
    const a = await runtimeId(src, files);
    expect(await runtimeId(src, files)).toBe(a);
    await put('dist/b.js', 'export const b = 3;\n');
    expect(await runtimeId(src, files)).not.toBe(a);
  });

  it('installs the real fused once per content and reuses it', async () => {
    // The real application (its dist/ is built before the unit tests run) against a temp root.
    const repo = join(import.meta.dirname, '../../../../..');
    const root = join(tmp, 'root');
    const src = { node: process.execPath, appDir: repo };
    const first = await installRuntime(root, src, quietLog);
    expect(first.command[0]).toBe(join(root, 'runtime', first.id, 'node'));
    expect(await readFile(join(first.dir, 'app/package.json'), 'utf8')).toContain('"type": "module"');
    expect(first.id).toBe(await runtimeId(src, await runtimeFiles(repo)));
    const again = await installRuntime(root, src, quietLog);
    expect(again.id).toBe(first.id);
    expect((await readdir(join(root, 'runtime'))).filter((n) => !n.startsWith('.'))).toEqual([first.id]);
  }, 60_000);
});

describe('sweepRuntimes', () => {
  it('removes copies and generations no live process uses, keeps the current one and a live one', async () => {
    const root = join(tmp, 'root');
    for (const id of ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc']) {
      await mkdir(join(root, 'runtime', id), { recursive: true });
      await mkdir(generationPaths(root, id).dir, { recursive: true });
    }
    await mkdir(join(root, 'runtime', '.tmp-dead-1-ab'), { recursive: true });
    const self = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ')[19];
    await writeFile(generationPaths(root, 'bbbbbbbbbbbbbbbb').lock, JSON.stringify({ pid: process.pid, start: self }));
    await writeFile(generationPaths(root, 'cccccccccccccccc').lock, JSON.stringify({ pid: process.pid, start: 'not-its-start' }));
    expect(await sweepRuntimes(root, 'aaaaaaaaaaaaaaaa', quietLog)).toEqual(['cccccccccccccccc']);
    expect((await readdir(join(root, 'runtime'))).sort()).toEqual(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    expect((await readdir(join(root, 'generations'))).sort()).toEqual(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    // A shutdown keeps nothing: the ids remembered go with the last copy.
    await writeFile(join(root, 'runtime', '.ids.json'), '{}');
    await rm(generationPaths(root, 'bbbbbbbbbbbbbbbb').lock);
    expect((await sweepRuntimes(root, undefined, quietLog)).sort()).toEqual(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    expect(await readdir(join(root, 'runtime'))).toEqual([]);
  });
});
