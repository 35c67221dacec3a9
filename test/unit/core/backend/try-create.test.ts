/** tryCreate (`snaphost check`): an instance in a temporary root, closed, its shutdown run there, the root removed. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tryCreate } from '../../../../core/backend/try-create.js';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { defineBackend } from '../../../../core/contract/define-backend.js';
import { REQUIRED_METHODS, type Snapshotter } from '../../../../core/contract/snapshotter.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-try-create-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const stub = (extra: Partial<Snapshotter> = {}) => ({ ...Object.fromEntries(REQUIRED_METHODS.map((m) => [m, () => undefined])), ...extra }) as unknown as Snapshotter;

describe('tryCreate', () => {
  it('creates in a temporary root, closes, runs shutdown on that root, removes it', async () => {
    const calls: string[] = [];
    const helper = defineBackend({
      name: 'helper',
      apiVersion: 1,
      options: z.object({}).strict(),
      create: (_o, ctx) => {
        calls.push(`create ${ctx.root}`);
        return stub({ close: () => void calls.push('close') });
      },
      shutdown: (_o, ctx) => {
        calls.push(`shutdown ${ctx.root}`);
        return 'stopped';
      },
    });
    const config = await resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), backends: [{ use: helper }] }, { baseDir: dir });
    expect(await tryCreate(config.backends[0]!, config, log)).toBeUndefined();
    const root = calls[0]!.slice('create '.length);
    expect(calls).toEqual([`create ${root}`, 'close', `shutdown ${root}`]);
    expect(root).toMatch(/\/snaphost-check-[^/]+$/);
    expect(existsSync(root)).toBe(false);
    expect(existsSync(join(dir, 'lib'))).toBe(false);
  });

  it('names backends[i] in what close and shutdown failures say', async () => {
    const bad = defineBackend({
      name: 'bad',
      apiVersion: 1,
      options: z.object({}).strict(),
      create: () => stub({ close: () => Promise.reject(new Error('close broke')) }),
      shutdown: () => Promise.reject(new Error('helper stuck')),
    });
    const config = await resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), backends: [{ use: 'memory', name: 'm', options: { size: '8m' } }, { use: bad, name: 'b' }] }, { baseDir: dir });
    expect(await tryCreate(config.backends[1]!, config, log)).toBe('backends[1] "b": close() failed: close broke; backends[1] "b": shutdown() on the temporary root failed: helper stuck');
  });
});
