/**
 * scripts/image/prune-node-modules.mjs: what goes from the image's node_modules and what stays
 * (the runtime files, the binaries of this system and Node ABI, licenses).
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drops, prune } from '../../../../scripts/image/prune-node-modules.mjs';

const AMD64 = { arch: 'amd64', abi: '137' };

describe('drops', () => {
  it.each([
    ['pino/README.md', false],
    ['pino/lib/x.js.map', false],
    ['pino/index.d.ts', false],
    ['lmdb/src/lmdb-js.cpp', false],
    ['zod/src/types.ts', false],
    ['pino/test', true],
    ['pino/docs', true],
    ['protobufjs/.github', true],
    ['fuse-native/prebuilds/darwin-x64', true],
    ['fuse-native/prebuilds/linux-arm64', true],
    ['typescript/bin', true],
    ['typescript/lib/de', true],
    ['@types', true],
    ['fuse-shared-library-darwin', true],
  ])('drops %s (directory: %s)', (rel, isDir) => {
    expect(drops(rel, isDir, AMD64)).toBe(true);
  });

  it.each([
    'pino/LICENSE',
    'typescript/LICENSE.txt',
    'typescript/lib/typescript.js',
    'typescript/package.json',
    'lmdb/dist/index.cjs',
    'fuse-native/prebuilds/linux-x64/node.napi.node',
    '@lmdb/lmdb-linux-x64/node.napi.glibc.node',
    '@lmdb/lmdb-linux-x64/node.abi137.glibc.node',
  ])('keeps %s', (rel) => {
    expect(drops(rel, false, AMD64)).toBe(false);
  });

  it('keeps the directories of this system', () => {
    expect(drops('fuse-native/prebuilds/linux-x64', true, AMD64)).toBe(false);
    expect(drops('fuse-native/prebuilds/linux-arm64', true, { arch: 'arm64', abi: '137' })).toBe(false);
    expect(drops('pino/lib', true, AMD64)).toBe(false);
  });

  it('drops binaries for other ABIs, musl and Electron', () => {
    expect(drops('@lmdb/lmdb-linux-x64/node.abi115.glibc.node', false, AMD64)).toBe(true);
    expect(drops('@lmdb/lmdb-linux-x64/node.napi.musl.node', false, AMD64)).toBe(true);
    expect(drops('fuse-native/prebuilds/linux-x64/electron.napi.node', false, AMD64)).toBe(true);
    expect(drops('typescript/lib/lib.dom.d.ts', false, AMD64)).toBe(true);
    expect(drops('typescript/lib/_tsc.js', false, AMD64)).toBe(true);
  });
});

describe('prune', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snaphost-prune-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('removes what drops says, then the directories left empty, and counts it', async () => {
    const files: Record<string, string> = {
      'pino/index.js': 'x',
      'pino/LICENSE': 'x',
      'pino/README.md': 'xxxx',
      'pino/test/a.js': 'xx',
      'pino/types/pino.d.ts': 'xxx',
      'typescript/lib/typescript.js': 'x',
      'typescript/lib/tsserver.js': 'xxxxx',
    };
    for (const [p, body] of Object.entries(files)) {
      await mkdir(dirname(join(dir, p)), { recursive: true });
      await writeFile(join(dir, p), body);
    }
    const r = await prune(dir, AMD64);
    expect(r).toEqual({ files: 4, bytes: 14 });
    const exists = (p: string) => stat(join(dir, p)).then(() => true, () => false);
    expect(await exists('pino/index.js')).toBe(true);
    expect(await exists('pino/LICENSE')).toBe(true);
    expect(await exists('typescript/lib/typescript.js')).toBe(true);
    expect(await exists('pino/test')).toBe(false);
    expect(await exists('pino/types')).toBe(false);
    expect(await exists('typescript/lib/tsserver.js')).toBe(false);
  });
});
