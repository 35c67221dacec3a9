import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../core/logger.js';
import { CONTRACT_CHECK_NAMES, runContractChecks, type CheckResult } from '../../../../core/test-backend/run-contract-checks.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const log = createLogger({ level: 'silent' });

async function check(use: string, options: Record<string, unknown> = {}, checkTimeoutMs?: number) {
  const results: CheckResult[] = [];
  const run = await runContractChecks({ use, options, cwd: fixtures, log, report: (r) => results.push(r), checkTimeoutMs });
  const failed = results.filter((r) => r.status === 'fail');
  return { ...run, results, failed: Object.fromEntries(failed.map((r) => [r.name, r.detail ?? ''])) };
}

async function temps(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((n) => n.startsWith('snaphost-test-backend-'));
}

async function leftovers(): Promise<string[]> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').filter((l) => l.includes(join(tmpdir(), 'snaphost-test-backend-')));
}

describe('contract checks (in-process)', () => {
  it('a complete backend (built-in memory) passes every check, and nothing is left mounted', async () => {
    const r = await check('memory', { size: '64m' });
    expect(r.results.map((x) => [x.name, x.status])).toEqual(CONTRACT_CHECK_NAMES.map((n) => [n, 'pass']));
    expect(r.tally).toEqual({ passed: CONTRACT_CHECK_NAMES.length, failed: 0, skipped: 0 });
    expect(r.name).toBe('memory');
    expect(await leftovers()).toEqual([]);
  }, 60_000);

  it('a file path is loaded relative to cwd, and the fixture without a fault passes', async () => {
    const r = await check('./faulty-memory.ts');
    expect(r.failed).toEqual({});
    expect(r.name).toBe('faulty-memory');
  }, 60_000);

  it('plain Errors for a missing key fail error-missing-key, naming the missing SDK class', async () => {
    const r = await check('./faulty-memory.ts', { fault: 'plain-errors' });
    expect(Object.keys(r.failed)).toContain('error-missing-key');
    expect(r.failed['error-missing-key']).toBe(
      'stat of a missing key: expected NotFoundError (NOT_FOUND), got Error "no snapshot contract/error-missing-key/missing sha256:0" (not an SDK error class: it would reach containerd as INTERNAL)',
    );
  }, 60_000);

  it('an untyped error for remove-with-children fails that check only', async () => {
    const r = await check('./faulty-memory.ts', { fault: 'remove-error-untyped' });
    expect(Object.keys(r.failed)).toEqual(['error-remove-with-children']);
    expect(r.failed['error-remove-with-children']).toMatch(/^remove of a snapshot that has a child: expected FailedPreconditionError \(FAILED_PRECONDITION\), got Error "busy"/);
  }, 60_000);

  it('a close() that throws the second time fails close-idempotent', async () => {
    const r = await check('./faulty-memory.ts', { fault: 'close-once' });
    expect(r.failed).toEqual({ 'close-idempotent': expect.stringMatching(/^a second close\(\) failed: already closed/) });
  }, 60_000);

  it('a list that holds a lock stat waits for fails stat-after-list by timeout instead of hanging', async () => {
    const r = await check('./faulty-memory.ts', { fault: 'list-holds-lock' }, 1500);
    expect(r.failed['stat-after-list']).toMatch(/did not finish within 1\.5 s/);
  }, 60_000);

  it('a missing method fails instance-has-every-method and skips the rest', async () => {
    const r = await check('./faulty-memory.ts', { fault: 'missing-update' });
    expect(r.failed).toEqual({ 'instance-has-every-method': expect.stringContaining('missing required method(s): update') });
    expect(r.tally).toEqual({ passed: 2, failed: 1, skipped: CONTRACT_CHECK_NAMES.length - 3 });
  }, 60_000);

  it('a schema that is not strict fails options-strict', async () => {
    const r = await check('./loose-options.ts');
    expect(r.failed).toEqual({ 'options-strict': expect.stringContaining('make it z.object({...}).strict()') });
  }, 60_000);

  it('invalid options and unloadable modules fail load with the config-path message and skip the rest', async () => {
    const bad = await check('memory', { sise: '1g' });
    expect(bad.failed).toEqual({ load: 'invalid config:\n  backends[0].options.sise: unknown key (did you mean "size"?)' });
    expect(bad.tally).toEqual({ passed: 0, failed: 1, skipped: CONTRACT_CHECK_NAMES.length - 1 });
    const missing = await check('snaphost-no-such-backend');
    expect(missing.failed.load).toMatch(/cannot load package "snaphost-no-such-backend": not installed/);
    expect(missing.name).toBeUndefined();
  }, 60_000);

  it('removes its temporary root', async () => {
    const before = await temps();
    await check('memory', { size: '16m' });
    expect((await temps()).filter((t) => !before.includes(t))).toEqual([]);
    expect(await leftovers()).toEqual([]);
  }, 60_000);
});
