import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testBackendCommand } from '../../../../core/cli/commands/test-backend.js';
import { runCli, runCommand } from '../../../../core/cli/run-cli.js';
import { createLogger } from '../../../../core/logger.js';
import { serveCommand, shellQuote } from '../../../../core/test-backend/run-conformance.js';

const repo = resolve(import.meta.dirname, '../../../..');
const log = createLogger({ level: 'silent' });

async function run(args: string[], cwd = repo) {
  let stdout = '';
  let stderr = '';
  const code = await runCommand(testBackendCommand({ log }), args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd });
  return { code, stdout, stderr, last: stdout.trimEnd().split('\n').pop() };
}

describe('snaphost test-backend', () => {
  it('refuses bad usage with exit 2 and the usage text', async () => {
    for (const [args, message] of [
      [[], 'MODULE is missing'],
      [['memory', 'overlayfs-native'], 'one MODULE expected, got 2: memory overlayfs-native'],
      [['memory', '--log-level', 'loud'], '--log-level must be one of'],
      [['memory', '--run', '('], '--run: Invalid regular expression'],
      [['memory', '--option', 'novalue'], 'novalue'],
      [['memory', '--bogus'], "Unknown option '--bogus'"],
    ] as const) {
      const r = await run([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('snaphost test-backend MODULE');
    }
    expect((await run(['--help'])).code).toBe(0);
  });

  it('is a command of the snaphost CLI, listed in its usage', async () => {
    let stderr = '';
    let stdout = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd: repo };
    expect(await runCli(['test-backend'], io)).toBe(2);
    expect(stderr).toContain('MODULE is missing');
    expect(await runCli(['--help'], io)).toBe(0);
    expect(stdout).toContain('snaphost test-backend MODULE [--option KEY=VALUE ...] [--run REGEX]');
  });

  it('a backend that does not load: 1 failed, the rest skipped, no conformance run', async () => {
    const r = await run(['snaphost-no-such-backend']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL contract/load: backend "snaphost-no-such-backend": cannot load package');
    expect(r.stdout).toContain('== conformance: not run (the backend did not load)');
    expect(r.last).toBe('0 passed, 1 failed, 10 skipped');
  });

  it('--contract-only: the contract checks alone', async () => {
    const r = await run(['memory', '--option', 'size=64m', '--contract-only']);
    expect(r.stdout).toContain('== conformance: not run (--contract-only)');
    expect(r.last).toBe('11 passed, 0 failed, 0 skipped');
    expect(r.code).toBe(0);
  }, 60_000);

  it('serves the backend for the harness with its options, shell-quoted, a relative path made absolute', () => {
    const cmd = serveCommand({ use: './my backend.mjs', optionArgs: ["label=it's", 'size=1g'], cwd: '/srv/x', cliPath: '/opt/snaphost/dist/core/cli/snaphost.js' });
    expect(cmd).toBe(
      `exec ${shellQuote(process.execPath)} /opt/snaphost/dist/core/cli/snaphost.js serve --backend '/srv/x/my backend.mjs' --root {root} --socket {socket} --option 'label=it'\\''s' --option size=1g`,
    );
    expect(serveCommand({ use: 'snaphost-quota-overlay', optionArgs: [], cwd: '/srv', cliPath: '/c.js' })).toContain('--backend snaphost-quota-overlay --root');
  });

  // The real thing: containerd's suite (two of its tests) over the socket of `snaphost serve`
  // (the built CLI, dist/core/cli/snaphost.js, as cli.test.ts uses), plus the contract checks.
  it('runs containerd conformance tests against the backend and adds them to the contract checks', async () => {
    const r = await run(['memory', '--option', 'size=64m', '--run', 'TestSnapshotterSuite/(Basic|StatActive)$']);
    expect(r.stdout).toContain(`cmd: exec ${shellQuote(process.execPath)} ${join(repo, 'dist/core/cli/snaphost.js')} serve --backend memory --root {root} --socket {socket} --option size=64m`);
    expect(r.stdout).toContain('conformance: 2 passed, 0 failed, 0 skipped');
    expect(r.last).toBe('13 passed, 0 failed, 0 skipped');
    expect(r.code).toBe(0);
  }, 600_000);
});
