/** test-backend's conformance failures: each failed test's name and failure lines, not 150 lines of escaped JSON logs. */
import { describe, expect, it } from 'vitest';
import { ConformanceFailureFilter, failureMessages } from '../../../../core/test-backend/conformance-failures.js';

const log = (msg: string) =>
  `    log_hook.go:40: time="2026-12-05T20:57:05.234792792Z" level=info msg="{\\"level\\":\\"info\\",\\"pid\\":25024,\\"msg\\":\\"${msg}\\"}" func="spawn.(*Instance).pump" snapshotter=stderr`;

// The harness's output for one failed extra test (as test/conformance/src/report prints it).
const HARNESS = [
  '[conformance] logs: /cache/logs/20261205-205636-23344 (test.log = full output, server/ = each server\'s stdout+stderr)',
  '  PASS  TestSnapshotterSuite/Basic                                9.88s',
  '  FAIL  TestExtras/ErrorKinds                                     7.27s',
  '',
  '==================== snapshotter conformance summary ====================',
  '',
  'extras (ours, not containerd\'s):',
  '  FAIL  ErrorKinds                                           7.27s',
  '',
  'Failures (test output, last 150 lines each):',
  '',
  '----- TestExtras/ErrorKinds -----',
  '=== RUN   TestExtras/ErrorKinds',
  '=== PAUSE TestExtras/ErrorKinds',
  ...Array.from({ length: 40 }, (_, i) => log(`line ${i}`)),
  '    suite_test.go:171: Stat(missing): expected a NotFound error (gRPC code), got: bad.Stat: no snapshot missing: unknown',
  log('after'),
  '    suite_test.go:177: Update(missing): expected a NotFound error (gRPC code),',
  '        got: bad.Update: no snapshot missing: unknown',
  '    --- FAIL: TestExtras/ErrorKinds (7.27s)',
  '',
  '----- TestSnapshotterSuite/Crash -----',
  'panic: runtime error: invalid memory address',
  '',
  'suite wall time: 29.5s',
  '3 passed, 1 failed, 0 skipped',
];

describe('conformance failures', () => {
  it('prints each failed test with its failure lines in place of the logs, then where the full output is', () => {
    const f = new ConformanceFailureFilter();
    const printed = HARNESS.flatMap((l) => f.push(l));
    printed.push(...f.flush());
    const at = printed.indexOf('Failed conformance tests (2):');
    expect(printed.slice(at - 1)).toEqual([
      '', // the harness's own blank line before its section
      'Failed conformance tests (2):',
      '  TestExtras/ErrorKinds',
      '    suite_test.go:171: Stat(missing): expected a NotFound error (gRPC code), got: bad.Stat: no snapshot missing: unknown',
      '    suite_test.go:177: Update(missing): expected a NotFound error (gRPC code),',
      '    got: bad.Update: no snapshot missing: unknown',
      '  TestSnapshotterSuite/Crash',
      '    panic: runtime error: invalid memory address',
      "Full output of the failed tests (with the server's logs): /cache/logs/20261205-205636-23344/test.log",
      'suite wall time: 29.5s',
      '3 passed, 1 failed, 0 skipped',
    ]);
    expect(printed.some((l) => l.includes('log_hook.go'))).toBe(false);
    // Everything before the section passes through unchanged.
    expect(printed.slice(0, at)).toEqual(HARNESS.slice(0, HARNESS.indexOf('Failures (test output, last 150 lines each):')));
  });

  it('without the harness\'s log directory, the full section follows the readable part', () => {
    const f = new ConformanceFailureFilter();
    const printed = HARNESS.slice(1).flatMap((l) => f.push(l));
    expect(printed).toContain("Full output of the failed tests (with the server's logs):");
    expect(printed.filter((l) => l.includes('log_hook.go'))).toHaveLength(41);
    expect(printed.at(-1)).toBe('3 passed, 1 failed, 0 skipped');
  });

  it('stderr lines are never held; a section cut off by the harness exiting is flushed', () => {
    const f = new ConformanceFailureFilter();
    expect(f.push('Failures (test output, last 150 lines each):')).toEqual([]);
    expect(f.push('report: boom', { hold: false })).toEqual(['report: boom']);
    f.push('----- TestX -----');
    f.push(log('only logs'));
    expect(f.flush()).toContain('    (no failure message in its output: see the full output)');
    expect(f.flush()).toEqual([]);
  });

  it('a failure line ends where the next log line starts', () => {
    expect(failureMessages(['    a_test.go:1: first', '        more', log('x'), '        not a continuation'])).toEqual(['a_test.go:1: first', 'more']);
  });
});
