/** shutdownBackends: each backend's `shutdown` hook, validated, bounded, under its root lock. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { shutdownBackends } from '../../../../core/admin/shutdown-backends.js';
import { defineBackend, type BackendContext } from '../../../../core/contract/define-backend.js';
import { lockRoot } from '../../../../core/backend/root-lock.js';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { BackendLoadError } from '../../../../core/contract/errors.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-shutdown-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const seen: { options: unknown; ctx: BackendContext }[] = [];
const stopper = defineBackend({
  name: 'stopper',
  apiVersion: 1,
  options: z.object({ port: z.number().default(7) }).strict(),
  create: () => {
    throw new Error('not created by shutdown');
  },
  shutdown: (options, ctx) => {
    seen.push({ options, ctx });
    return `stopped the helper of ${ctx.name}`;
  },
});
const plain = defineBackend({ name: 'plain', apiVersion: 1, options: z.object({}), create: () => ({}) as never });
const failing = defineBackend({ name: 'failing', apiVersion: 1, options: z.object({}), create: () => ({}) as never, shutdown: () => Promise.reject(new Error('helper did not exit')) });
const hanging = defineBackend({ name: 'hanging', apiVersion: 1, options: z.object({}), create: () => ({}) as never, shutdown: () => new Promise<string>(() => undefined) });
const wrongType = defineBackend({ name: 'wrong', apiVersion: 1, options: z.object({}), create: () => ({}) as never, shutdown: (() => 42) as never });

const config = (backends: unknown[]) => resolveConfig({ socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), backends }, { baseDir: dir });

describe('shutdownBackends', () => {
  it('calls shutdown with validated options and a context for the root; skips backends without one', async () => {
    const cfg = await config([{ use: stopper, options: { port: 9 } }, { use: plain }, { use: stopper, name: 'never-ran' }]);
    await mkdir(join(dir, 'lib', 'stopper'), { recursive: true });
    await mkdir(join(dir, 'lib', 'plain'), { recursive: true });
    seen.length = 0;
    const out = await shutdownBackends(cfg, { names: [], force: false, log, timeoutMs: 1000 });
    expect(out).toEqual([
      { name: 'stopper', outcome: 'stopped', message: 'stopped the helper of stopper' },
      { name: 'plain', outcome: 'skipped', message: 'nothing to shut down (its definition has no shutdown)' },
      { name: 'never-ran', outcome: 'skipped', message: `nothing to shut down (root ${join(dir, 'lib', 'never-ran')} does not exist)` },
    ]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.options).toEqual({ port: 9 });
    expect(seen[0]!.ctx).toMatchObject({ name: 'stopper', root: join(dir, 'lib', 'stopper') });
    expect(seen[0]!.ctx.signal.aborted).toBe(false);
  });

  it('reports a failing, hanging or wrongly typed shutdown, and a root another process holds', async () => {
    const cfg = await config([{ use: failing }, { use: hanging }, { use: wrongType }, { use: stopper }]);
    for (const b of cfg.backends) await mkdir(b.root, { recursive: true });
    const held = await lockRoot('stopper', join(dir, 'lib', 'stopper'));
    try {
      const out = await shutdownBackends(cfg, { names: [], force: false, log, timeoutMs: 200 });
      expect(out.map((o) => [o.name, o.outcome])).toEqual([
        ['failing', 'failed'],
        ['hanging', 'failed'],
        ['wrong', 'failed'],
        ['stopper', 'failed'],
      ]);
      expect(out[0]!.message).toBe('shutdown() failed: helper did not exit');
      expect(out[1]!.message).toBe('shutdown() failed: shutdown() did not finish within 200 ms');
      expect(out[2]!.message).toBe('shutdown() resolved to number, expected a description (string)');
      expect(out[3]!.message).toMatch(/root .* is in use by another backend of this process/);
      // --force: the lock is not taken.
      const forced = await shutdownBackends(cfg, { names: ['stopper'], force: true, log, timeoutMs: 200 });
      expect(forced).toEqual([{ name: 'stopper', outcome: 'stopped', message: 'stopped the helper of stopper' }]);
    } finally {
      await held.release();
    }
  });

  it('refuses an unknown --backend name, listing the configured ones', async () => {
    const cfg = await config([{ use: stopper }, { use: plain }]);
    await expect(shutdownBackends(cfg, { names: ['stoper'], force: false, log, timeoutMs: 100 })).rejects.toThrow('no backend named "stoper" in the config (backends: stopper, plain)');
  });

  it('a definition whose shutdown is not a function does not load', async () => {
    const bad = { name: 'bad', apiVersion: 1, options: z.object({}), create: () => ({}), shutdown: 'stop it' };
    const cfg = await config([{ use: bad, optional: true }]);
    expect(cfg.backends[0]!.error).toBeInstanceOf(BackendLoadError);
    expect(cfg.backends[0]!.error!.message).toBe('backend "bad": the inline definition is not a valid backend definition: `shutdown` must be a function when present (got string)');
  });
});
