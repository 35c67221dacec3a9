import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findHarness, HarnessNotFoundError } from '../../../../core/test-backend/find-harness.js';

const repo = resolve(import.meta.dirname, '../../../..');
const temps: string[] = [];
afterEach(async () => {
  for (const t of temps.splice(0)) await rm(t, { recursive: true, force: true });
});

/** A package laid out as npm installs it: node_modules/snaphost/{package.json,dist/core/test-backend,test/conformance}. */
async function installed(name = 'snaphost', withHarness = true): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'snaphost-find-harness-'));
  temps.push(dir);
  const pkg = join(dir, 'node_modules', 'snaphost');
  await mkdir(join(pkg, 'dist', 'core', 'test-backend'), { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name }));
  if (withHarness) {
    await mkdir(join(pkg, 'test', 'conformance'), { recursive: true });
    await writeFile(join(pkg, 'test', 'conformance', 'run.sh'), '#!/bin/sh\n');
  }
  return pkg;
}

describe('findHarness', () => {
  it('finds test/conformance of the repository from the sources', () => {
    expect(findHarness({})).toBe(join(repo, 'test', 'conformance'));
  });

  it('finds it in an installed package, from dist/core/test-backend', async () => {
    const pkg = await installed();
    expect(findHarness({}, join(pkg, 'dist', 'core', 'test-backend'))).toBe(join(pkg, 'test', 'conformance'));
  });

  it('says what to do when the package does not ship it, or the directory is not snaphost', async () => {
    const without = await installed('snaphost', false);
    expect(() => findHarness({}, join(without, 'dist', 'core', 'test-backend'))).toThrow(HarnessNotFoundError);
    expect(() => findHarness({}, join(without, 'dist', 'core', 'test-backend'))).toThrow(/reinstall snaphost, or set SNAPHOST_CONFORMANCE_DIR/);
    const other = await installed('not-snaphost');
    expect(() => findHarness({}, join(other, 'dist', 'core', 'test-backend'))).toThrow(HarnessNotFoundError);
  });

  it('SNAPHOST_CONFORMANCE_DIR overrides, and must hold run.sh', async () => {
    const pkg = await installed();
    expect(findHarness({ SNAPHOST_CONFORMANCE_DIR: join(pkg, 'test', 'conformance') }, '/')).toBe(join(pkg, 'test', 'conformance'));
    expect(() => findHarness({ SNAPHOST_CONFORMANCE_DIR: pkg }, '/')).toThrow(`SNAPHOST_CONFORMANCE_DIR=${pkg}: ${join(pkg, 'run.sh')} does not exist`);
  });
});
