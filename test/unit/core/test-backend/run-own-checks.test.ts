/** `snaphost test-backend --checks FILE`: the author's checks against the backend served through gRPC. */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../core/logger.js';
import type { CheckResult } from '../../../../core/test-backend/run-contract-checks.js';
import { runOwnChecks } from '../../../../core/test-backend/run-own-checks.js';
import { testBackendCommand } from '../../../../core/cli/commands/test-backend.js';
import { runCommand } from '../../../../core/cli/run-cli.js';

const repo = resolve(import.meta.dirname, '../../../..');
const fixtures = join(import.meta.dirname, 'fixtures');
const log = createLogger({ level: 'silent' });

async function own(file: string) {
  const results: CheckResult[] = [];
  const tally = await runOwnChecks({ file, use: 'memory', options: { size: '64m' }, cwd: fixtures, log, report: (r) => results.push(r) });
  return { tally, results };
}

describe('--checks', () => {
  it('runs each check on a fresh backend served through gRPC, failures with the error class and message', async () => {
    const r = await own('./own-checks.ts');
    expect(r.results).toEqual([
      { name: 'prepare-then-stat', status: 'pass', detail: undefined },
      { name: 'fresh-backend-per-check', status: 'pass', detail: undefined },
      { name: 'fails-on-purpose', status: 'fail', detail: 'NotFoundError: memory has no limit: this check fails on purpose' },
    ]);
    expect(r.tally).toEqual({ passed: 2, failed: 1, skipped: 0 });
  }, 60_000);

  it('a function default export is one check named after the file', async () => {
    const r = await own('./own-check-function.ts');
    expect(r.results).toEqual([{ name: 'own-check-function', status: 'pass', detail: undefined }]);
  }, 60_000);

  it('a module that is not checks fails as check/load', async () => {
    const missing = await own('./no-such-checks.ts');
    expect(missing.results).toEqual([{ name: 'load', status: 'fail', detail: expect.stringContaining('cannot import') as string }]);
    const wrong = await own('./loose-options.ts');
    expect(wrong.results[0]!.detail).toContain('the default export must be an array of { name, run(client, ctx) } or a function');
  });

  it('test-backend reports them with the contract checks, in the same summary', async () => {
    let stdout = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true }, cwd: repo };
    const code = await runCommand(testBackendCommand({ log }), ['memory', '--option', 'size=64m', '--contract-only', '--checks', 'test/unit/core/test-backend/fixtures/own-checks.ts'], io);
    expect(stdout).toContain('== your checks: test/unit/core/test-backend/fixtures/own-checks.ts (the backend served in-process through gRPC)');
    expect(stdout).toContain('PASS check/prepare-then-stat\n');
    expect(stdout).toContain('FAIL check/fails-on-purpose: NotFoundError: memory has no limit: this check fails on purpose\n');
    expect(stdout).toContain('checks: 2 passed, 1 failed, 0 skipped\n');
    expect(stdout.trimEnd().split('\n').pop()).toBe('13 passed, 1 failed, 0 skipped');
    expect(code).toBe(1);
  }, 60_000);

  it('are not run when the backend does not load', async () => {
    let stdout = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true }, cwd: repo };
    await runCommand(testBackendCommand({ log }), ['snaphost-no-such-backend', '--checks', 'x.ts'], io);
    expect(stdout).toContain('== your checks (x.ts): not run (the backend did not load)');
    expect(stdout.trimEnd().split('\n').pop()).toBe('0 passed, 1 failed, 10 skipped');
  });
});
